import { describe, expect, it } from "vitest";
import { ConversationGoneError, PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";
import { MAX_TIMER_MS } from "../option-checks.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import type { DeadLetter } from "./events.js";
import { mayHaveLanded } from "./outcome.js";
import { decideRetry } from "./retry-policy.js";
import { clampDelay } from "./timers.js";

const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0, maxRetryAfterMs: Number.MAX_SAFE_INTEGER };
const random = () => 0.5;

describe("decideRetry", () => {
  it("caps a throttled hold at Node's timer limit: a month-long hint must not fire after 1 ms", () => {
    const month = 30 * 86_400_000;
    const d = decideRetry(new RetryableDeliveryError("spacing", { retryAfterMs: month, throttled: true }), 1, policy, random);
    expect(d).toEqual({ kind: "retry", delayMs: MAX_TIMER_MS, counted: false });
    const hinted = decideRetry(new RetryableDeliveryError("429", { retryAfterMs: month, status: 429 }), 1, policy, random);
    expect(hinted.kind === "retry" && hinted.delayMs).toBe(MAX_TIMER_MS);
  });

  it("bounds throttled holds by maxHoldMs: past it a hold spends budget, then the note is dead-lettered", () => {
    const held = new RetryableDeliveryError("spacing", { retryAfterMs: 50, throttled: true });
    expect(decideRetry(held, 1, policy, random, 999, 1000)).toMatchObject({ counted: false });
    expect(decideRetry(held, 1, policy, random, 1000, 1000)).toMatchObject({ kind: "retry", counted: true });
    expect(decideRetry(held, 3, policy, random, 5000, 1000)).toEqual({ kind: "give-up", reason: "hold_expired" });
  });

  it("gives a gone conversation its own reason", () => {
    expect(decideRetry(new ConversationGoneError("404"), 1, policy, random)).toEqual({ kind: "give-up", reason: "conversation_gone" });
    expect(decideRetry(new PermanentDeliveryError("400"), 1, policy, random)).toEqual({ kind: "give-up", reason: "permanent_error" });
  });
});

describe("clampDelay and mayHaveLanded", () => {
  it("clamps delays into Node's timer range", () => {
    expect(clampDelay(2 ** 40)).toBe(MAX_TIMER_MS);
    expect(clampDelay(Number.NaN)).toBe(0);
    expect(clampDelay(-5)).toBe(0);
  });

  it("treats only answered refusals and own holds as not landed", () => {
    expect(mayHaveLanded(new RetryableDeliveryError("503", { status: 503 }))).toBe(false);
    expect(mayHaveLanded(new RetryableDeliveryError("held", { throttled: true }))).toBe(false);
    expect(mayHaveLanded(new RetryableDeliveryError("reset"))).toBe(true);
    expect(mayHaveLanded(new Error("socket hang up"))).toBe(true);
  });
});

describe("DeadLetterStore", () => {
  const letter = (id: string, text: string): DeadLetter => ({
    id, sessionId: "s", conversationId: "c", reason: "retries_exhausted", error: "e", attempts: 1, kind: "debounced",
    actions: [{ description: text, timestamp_start: 1 }], body: text, at: 0,
  });

  it("is bounded by bytes as well as by count, evicting the oldest and saying how many", () => {
    const store = new DeadLetterStore(100, 1000);
    expect(store.add(letter("a", "x".repeat(300)))).toBe(0);
    expect(store.add(letter("b", "x".repeat(300)))).toBe(1);
    expect(store.list().map((l) => l.id)).toEqual(["b"]);
    expect(store.bytes).toBeLessThanOrEqual(1000);
  });

  it("takes letters by id", () => {
    const store = new DeadLetterStore(10, 1e9);
    store.add(letter("a", "1"));
    store.add(letter("b", "2"));
    expect(store.take(["b", "zz"]).map((l) => l.id)).toEqual(["b"]);
    expect(store.list().map((l) => l.id)).toEqual(["a"]);
  });
});
