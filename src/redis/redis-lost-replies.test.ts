import { describe, expect, it, vi } from "vitest";
import { PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";
import type { DeadLetter } from "../writer/events.js";
import { slim } from "../writer/test-support/actions.js";
import { TAKE_DEAD } from "./dead-letter-scripts.js";
import { CLAIM, CONFIRM, DEAD_LETTER, RETRY } from "./delivery-scripts.js";
import { FaultyClient, linesOf, redisTestBed } from "./test-support/harness.js";

// Issue 7 (c): every outcome step whose reply is lost is re-run with the same claim id and
// answers as the first run did.
const bed = redisTestBed("lost-replies");
const T0 = Math.floor(Date.now() / 1000);

function faulty(): FaultyClient {
  return new FaultyClient(bed.redis);
}

describe("lost Redis replies", () => {
  it("a lost CLAIM reply is recovered at once with the same claim, not after a whole lease", async () => {
    const client = faulty().loseReplyOf(CLAIM);
    // A 20 s lease: a stall for a lease would time this test out.
    const w = bed.make({ postTimeoutMs: 10_000 }, { client, leaseMarginMs: 1000 });
    await w.onSessionLinked("s", "c");
    const started = Date.now();
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    await vi.waitFor(() => expect(w.delivered).toHaveLength(1), { timeout: 4000 });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(client.runs(CLAIM)).toBeGreaterThanOrEqual(2);
    await w.onIdle();
    expect(w.calls).toHaveLength(1);
    expect(linesOf(w.delivered)).toEqual(["a"]);
  });

  it("a lost CONFIRM reply still emits delivered, records the part once and logs no false duplicate warning", async () => {
    const client = faulty().loseReplyOf(CONFIRM);
    const w = bed.make({}, { client });
    const delivered: unknown[] = [];
    w.on("delivered", (e) => delivered.push(e));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    await vi.waitFor(() => expect(delivered).toHaveLength(1), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("b", T0 + 1, 1)]);
    await vi.waitFor(() => expect(delivered).toHaveLength(2), { timeout: 3000 });
    await w.onIdle();
    expect(client.runs(CONFIRM)).toBe(3);
    expect(w.calls).toHaveLength(2);
    expect(await w.getPartIds("s")).toEqual(["part-1", "part-2"]);
    expect(w.stats().notesPosted).toBe(2);
    expect(w.logs.filter((l) => l.message.includes("delivered twice"))).toEqual([]);
  });

  it("a lost RETRY reply is recorded once: one retry, then delivered, attempts counted once", async () => {
    const client = faulty().loseReplyOf(RETRY);
    const w = bed.make({ retry: { baseDelayMs: 50, jitter: 0, maxAttempts: 5 } }, { client });
    const retrying: number[] = [];
    w.on("retrying", (e) => retrying.push(e.attempt));
    w.next(() => Promise.reject(new RetryableDeliveryError("503", { status: 503 })));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    await vi.waitFor(() => expect(w.delivered).toHaveLength(1), { timeout: 3000 });
    await w.onIdle();
    expect(retrying).toEqual([1]);
    expect(w.calls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(w.stats().retries).toBe(1);
    expect(linesOf(w.delivered)).toEqual(["a"]);
  });

  it("a dead letter written but whose reply was lost is still reported once (event and stats) and stored once", async () => {
    const client = faulty().loseReplyOf(DEAD_LETTER);
    const w = bed.make({}, { client });
    const letters: DeadLetter[] = [];
    w.on("dead-lettered", (l) => letters.push(l));
    w.next(() => Promise.reject(new PermanentDeliveryError("400 bad request", { status: 400 })));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    await vi.waitFor(() => expect(letters).toHaveLength(1), { timeout: 3000 });
    await w.onIdle();
    expect(client.runs(DEAD_LETTER)).toBe(2);
    expect(w.stats().deadLettered).toBe(1);
    const stored = await w.deadLetters();
    expect(stored.map((l) => l.id)).toEqual([letters[0]?.id]);
    expect(stored[0]).toMatchObject({ reason: "permanent_error", actions: [{ description: "a" }] });
  });

  it("a take of the dead letters whose reply was lost still returns them, once", async () => {
    const client = faulty();
    const w = bed.make({}, { client });
    w.next(() => Promise.reject(new PermanentDeliveryError("400 bad request", { status: 400 })));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("kept", T0, 0)]);
    await vi.waitFor(() => expect(w.stats().deadLettered).toBe(1), { timeout: 3000 });
    client.loseReplyOf(TAKE_DEAD);
    const taken = await w.takeDeadLetters();
    expect(taken.map((l) => l.actions[0]?.description)).toEqual(["kept"]);
    expect(client.runs(TAKE_DEAD)).toBe(2);
    expect(await w.deadLetters()).toEqual([]);
    expect(await w.takeDeadLetters()).toEqual([]);
  });

  it("retries an outcome step through an outage until its outcome is known", async () => {
    const client = faulty();
    const w = bed.make({}, { client });
    const delivered: unknown[] = [];
    w.on("delivered", (e) => delivered.push(e));
    let release: () => void = () => undefined;
    w.next(async () => {
      client.down = true; // Redis goes away while the call is pending
      await new Promise<void>((resolve) => (release = resolve));
      return "part-x";
    });
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    release();
    await new Promise((r) => setTimeout(r, 400));
    expect(delivered).toHaveLength(0);
    client.down = false;
    await vi.waitFor(() => expect(delivered).toHaveLength(1), { timeout: 3000 });
    expect(await w.getPartIds("s")).toEqual(["part-x"]);
    expect(w.calls).toHaveLength(1);
  });
});
