import { describe, expect, it, vi } from "vitest";
import { RetryableDeliveryError } from "../errors.js";
import type { DeadLetter } from "../writer/events.js";
import { slim } from "../writer/test-support/actions.js";
import { linesOf, redisTestBed, sleep } from "./test-support/harness.js";

// Issue 7 (g) bounded holds across instances, (h) stable idempotency keys and lease renewal.
const bed = redisTestBed("notes");
const T0 = Math.floor(Date.now() / 1000);

describe("idempotency key (h)", () => {
  it("posts a note whose call may have landed again with the same body and key; newer actions wait for the next note", async () => {
    const w = bed.make({ retry: { baseDelayMs: 150, jitter: 0 } });
    w.next(() => Promise.reject(new Error("socket hang up"))); // no status: it may have landed
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0 - 5, 0)]);
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("b", T0 - 4, 1)]);
    await vi.waitFor(() => expect(w.delivered).toHaveLength(2), { timeout: 3000 });
    const [failed, retried, next] = w.calls;
    expect(retried?.idempotencyKey).toBe(failed?.idempotencyKey);
    expect(retried?.body).toBe(failed?.body);
    expect(retried?.attempt).toBe(2);
    expect(next?.idempotencyKey).not.toBe(failed?.idempotencyKey);
    expect(linesOf(w.delivered)).toEqual(["a", "b"]);
  });

  it("a refused note (numeric status) absorbs newer pending actions and gets a new key", async () => {
    const w = bed.make({ retry: { baseDelayMs: 150, jitter: 0 } });
    w.next(() => Promise.reject(new RetryableDeliveryError("503", { status: 503 })));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0 - 5, 0)]);
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("b", T0 - 4, 1)]);
    await vi.waitFor(() => expect(w.delivered).toHaveLength(1), { timeout: 3000 });
    expect(w.calls).toHaveLength(2);
    expect(w.calls[1]?.idempotencyKey).not.toBe(w.calls[0]?.idempotencyKey);
    expect(linesOf(w.delivered)).toEqual(["a", "b"]);
  });
});

describe("lease renewal (h, policy 6)", () => {
  it("keeps the lease while a call outlives it: another instance never posts the session beside it", async () => {
    // Lease = 2 × 100 + 100 = 300 ms; the call takes 1.2 s.
    const a = bed.make({ postTimeoutMs: 100 }, { leaseMarginMs: 100 });
    const b = bed.make({ postTimeoutMs: 100 }, { leaseMarginMs: 100 });
    a.next(async () => {
      await sleep(1200);
      return "slow-part";
    });
    await a.onSessionLinked("s", "c");
    await a.writeActions(null, "s", [slim("slow", T0, 0)]);
    await vi.waitFor(() => expect(a.delivered).toHaveLength(1), { timeout: 4000 });
    await sleep(200);
    expect([...a.calls, ...b.calls]).toHaveLength(1);
    expect(await a.getPartIds("s")).toEqual(["slow-part"]);
    expect(a.logs.filter((l) => l.message.includes("delivered twice"))).toEqual([]);
  });
});

describe("bounded holds (g)", () => {
  it("bounds throttled holds from the note's first try, kept in Redis across claims", async () => {
    const w = bed.make({ maxHoldMs: 400, retry: { maxAttempts: 2, baseDelayMs: 20, jitter: 0 } });
    const letters: DeadLetter[] = [];
    w.on("dead-lettered", (l) => letters.push(l));
    const hold = () => Promise.reject(new RetryableDeliveryError("spacing", { throttled: true, retryAfterMs: 60 }));
    w.next(...Array.from({ length: 100 }, () => hold));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("held", T0, 0)]);
    await vi.waitFor(() => expect(w.calls.length).toBeGreaterThanOrEqual(2), { timeout: 3000 });
    const held = Number(await bed.redis.sendCommand(["HGET", `${bed.prefix}s:s:meta`, "held"]));
    await sleep(150);
    expect(Number(await bed.redis.sendCommand(["HGET", `${bed.prefix}s:s:meta`, "held"]))).toBe(held);
    await vi.waitFor(() => expect(letters).toHaveLength(1), { timeout: 4000 });
    expect(letters[0]).toMatchObject({ reason: "hold_expired", actions: [{ description: "held" }] });
    // Held about maxHoldMs, then two counted attempts: not hundreds of calls.
    expect(w.calls.length).toBeLessThan(20);
  });

  it("caps a huge retry hint: one call, not a storm of 1 ms timers", async () => {
    const w = bed.make({ retry: { maxRetryAfterMs: 2_147_483_647 } });
    w.next(() => Promise.reject(new RetryableDeliveryError("429", { status: 429, retryAfterMs: 5_000_000_000 })));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("x", T0, 0)]);
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    await sleep(300);
    expect(w.calls).toHaveLength(1);
    const retryAt = Number(await bed.redis.sendCommand(["HGET", `${bed.prefix}s:s:meta`, "retry_at"]));
    expect(retryAt - Date.now()).toBeGreaterThan(1_000_000_000);
  });
});
