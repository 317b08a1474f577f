import { describe, expect, it, vi } from "vitest";
import { RetryableDeliveryError } from "../errors.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import type { DeadLetter, WriterEvents } from "./events.js";
import { slim } from "./test-support/actions.js";
import { useFakeWriterClock } from "./test-support/fake-clock.js";

const T0 = 1_718_000_000;
let writer: RecordingChatbotWriter;

useFakeWriterClock(T0, () => writer);

/** Every action line of every delivered note, in delivery order. */
function deliveredLines(w: RecordingChatbotWriter): string[] {
  return w.notes.flatMap((n) => n.body.split("\n").slice(3).filter((l) => l !== "").map((l) => l.replace(/^\[\d+\] /, "")));
}

describe("a failing platform", () => {
  it("retries a throwing post with backoff and delivers every action exactly once, in order", async () => {
    writer = createTestWriter({ retry: { baseDelayMs: 1000, jitter: 0 } });
    const retries: WriterEvents["retrying"][] = [];
    writer.on("retrying", (e) => retries.push(e));
    writer.failNext(3);
    await writer.writeActions(null, "s", [slim("pre 1", T0 + 0.1), slim("pre 2", T0 + 0.2)]);
    await writer.onSessionLinked("s", "c");
    await writer.writeActions("c", "s", [slim("post 1", T0 + 2)]);
    for (let i = 0; i < 6; i++) {
      await writer.writeActions("c", "s", [slim(`post ${i + 2}`, T0 + 3 + i)]);
      await vi.advanceTimersByTimeAsync(700);
    }
    await vi.advanceTimersByTimeAsync(20_000);
    await writer.onIdle();

    expect(retries.map((r) => r.delayMs)).toEqual([1000, 2000, 4000]);
    expect(writer.calls.slice(0, 4).map((c) => c.outcome)).toEqual(["failed", "failed", "failed", "delivered"]);
    expect(writer.notes[0]?.body).toContain("[1] pre 1\n[2] pre 2");
    expect(deliveredLines(writer)).toEqual(["pre 1", "pre 2", ...Array.from({ length: 7 }, (_, i) => `post ${i + 1}`)]);
    expect((await writer.deadLetters())).toEqual([]);
    expect(writer.maxConcurrentPerSession).toBe(1);
  });

  it("keeps coalescing while rate-limited and posts once after the retry-after hint", async () => {
    writer = createTestWriter({ retry: { baseDelayMs: 100, jitter: 0 } });
    writer.rateLimitNext(7000);
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150);
    expect(writer.calls).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      await writer.writeActions("c", "s", [slim(`b${i}`, T0 + 1 + i)]);
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(writer.calls).toHaveLength(1); // 5 s later: still waiting for the reset
    await vi.advanceTimersByTimeAsync(1999);
    expect(writer.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.calls).toHaveLength(2);
    expect(deliveredLines(writer)).toEqual(["a", ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
  });

  it("waits for a call past postTimeoutMs instead of starting a second one: a late success counts, order holds", async () => {
    const warnings: string[] = [];
    writer = createTestWriter({ postTimeoutMs: 2000, retry: { baseDelayMs: 500, jitter: 0 }, logger: { warn: (m) => warnings.push(m) } });
    writer.delayNext(5000);
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150 + 2001);
    expect(warnings.some((w) => w.includes("postTimeoutMs"))).toBe(true);
    await writer.writeActions("c", "s", [slim("b", T0 + 1)]);
    await vi.advanceTimersByTimeAsync(2000);
    // Past the timeout and past the next note's debounce: still one call, the slow one.
    expect(writer.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    await writer.onIdle();
    expect(writer.calls.map((c) => c.outcome)).toEqual(["delivered", "delivered"]);
    expect(deliveredLines(writer)).toEqual(["a", "b"]);
    expect(writer.maxConcurrentPerSession).toBe(1);
    expect(writer.stats()).toMatchObject({ retries: 0, postFailures: 0, notesPosted: 2 });
  });

  it("dead-letters the actions after the retry budget, visibly (event + API + stats)", async () => {
    writer = createTestWriter({ retry: { maxAttempts: 3, baseDelayMs: 100, jitter: 0 } });
    const letters: DeadLetter[] = [];
    writer.on("dead-lettered", (l) => letters.push(l));
    writer.failNext(3, new Error("boom"));
    await writer.writeActions("c", "s", [slim("a", T0), slim("b", T0 + 1)]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(writer.calls).toHaveLength(3);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      sessionId: "s",
      conversationId: "c",
      reason: "retries_exhausted",
      error: "boom",
      attempts: 3,
      actions: [
        { description: "a", timestamp_start: T0 },
        { description: "b", timestamp_start: T0 + 1 },
      ],
    });
    expect((await writer.deadLetters())).toEqual(letters);
    expect(writer.stats()).toMatchObject({ deadLettered: 1, deadLetteredActions: 2, postFailures: 3, retries: 2 });
    expect((await writer.takeDeadLetters())).toHaveLength(1);
    expect((await writer.deadLetters())).toHaveLength(0);

    // The session is not wedged: later actions are delivered normally.
    await writer.writeActions("c", "s", [slim("c", T0 + 5)]);
    await vi.advanceTimersByTimeAsync(200);
    expect(deliveredLines(writer)).toEqual(["c"]);
  });

  it("does not retry a permanent error (a deleted conversation) and dead-letters at once", async () => {
    writer = createTestWriter();
    writer.goneNext();
    await writer.writeActions("gone", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(writer.calls).toHaveLength(1);
    expect((await writer.deadLetters())[0]).toMatchObject({ reason: "permanent_error", attempts: 1 });
  });

  it("keeps the flush note first even when it fails and post-link actions pile up", async () => {
    writer = createTestWriter({ retry: { baseDelayMs: 1000, jitter: 0 } });
    writer.failNext(2);
    await writer.writeActions(null, "s", [slim("pre", T0)]);
    await writer.onSessionLinked("s", "c");
    await writer.writeActions("c", "s", [slim("post", T0 + 1)]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(writer.notes.map((n) => n.body.split("\n\n")[1])).toEqual(["[1] pre", "[1] post"]);
  });

  it("honours a retry-after hint from a plain error thrown by a JavaScript subclass", async () => {
    writer = createTestWriter({ retry: { baseDelayMs: 10, jitter: 0 } });
    writer.failNext(1, Object.assign(new Error("429"), { retryAfterMs: 3000 }));
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150 + 2999);
    expect(writer.notes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.notes).toHaveLength(1);
  });

  it("caps backoff at maxDelayMs and jitters within the configured fraction", async () => {
    const delays: number[] = [];
    writer = createTestWriter({ retry: { baseDelayMs: 1000, maxDelayMs: 4000, jitter: 0.5, maxAttempts: 10 }, random: () => 1 });
    writer.on("retrying", (e) => delays.push(e.delayMs));
    writer.failNext(5, new RetryableDeliveryError("503"));
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(delays).toEqual([1500, 3000, 4000, 4000, 4000]);
  });
});

describe("throttling", () => {
  it("waits out a self-imposed hold without spending the retry budget", async () => {
    writer = createTestWriter({ retry: { maxAttempts: 2 } });
    writer.failNext(5, new RetryableDeliveryError("spacing", { retryAfterMs: 1000, throttled: true }));
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150 + 4999);
    expect(writer.notes).toHaveLength(0);
    await writer.writeActions("c", "s", [slim("b", T0 + 1)]); // joins the held note
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.notes.map((n) => n.body.split("\n\n")[1])).toEqual(["[1] a\n[2] b"]);
    expect(writer.stats()).toMatchObject({ throttled: 5, postFailures: 0, deadLettered: 0 });
  });
});

describe("slow platforms", () => {
  it("counts a post that lands after its timeout as delivered, and never runs two calls for a session", async () => {
    writer = createTestWriter({ postTimeoutMs: 1000 });
    writer.delayNext(1500);
    await writer.writeActions("c", "s", [slim("slow", T0)]);
    await vi.advanceTimersByTimeAsync(150 + 1500);
    await writer.onIdle();
    expect(writer.calls).toHaveLength(1);
    expect(writer.notes).toHaveLength(1);
    expect(await writer.getPartIds("s")).toEqual(["part-1"]);
    expect(writer.stats()).toMatchObject({ notesPosted: 1, retries: 0 });
    expect(writer.maxConcurrentPerSession).toBe(1);
  });
});

describe("large flushes", () => {
  it("splits a flush of thousands of actions into ordered notes that lose nothing", async () => {
    writer = createTestWriter({ maxNoteActions: 500 });
    const actions = Array.from({ length: 1234 }, (_, i) => slim(`action ${i}`, T0 + i / 100));
    vi.setSystemTime((T0 + 20) * 1000);
    await writer.writeActions(null, "s", actions);
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.notes).toHaveLength(3);
    expect(deliveredLines(writer)).toEqual(actions.map((a) => a.description));
  });
});
