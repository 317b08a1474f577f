import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS } from "../../option-checks.js";
import { ConversationGoneError, PermanentDeliveryError, RetryableDeliveryError } from "../../errors.js";
import { slim } from "./actions.js";
import {
  actionLines, callsMade, collect, deliveredLines, eventually, recentSeconds, sleep, type PolicyContext,
} from "./delivery-policy-harness.js";

/** Retries, retry hints, throttled holds, permanent errors, gone conversations, slow calls, idempotency keys. */
export function describeFailures(ctx: PolicyContext): void {
  describe("retries", () => {
    it("retries a failing post with backoff and delivers every action exactly once, in order", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 60, maxAttempts: 5 } });
      const retrying = collect(w, "retrying");
      w.retryableNext(2, { status: 503 });
      const t = recentSeconds();
      await w.writeActions(null, "s", [slim("pre 1", t, 0), slim("pre 2", t + 0.2, 1)]);
      await w.onSessionLinked("s", "c");
      await w.writeActions("c", "s", [slim("post 1", t + 2, 2)]);
      await callsMade(w, 1);
      await w.writeActions("c", "s", [slim("post 2", t + 3, 3)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["pre 1", "pre 2", "post 1", "post 2"]));
      expect(w.calls.slice(0, 3).map((c) => c.outcome)).toEqual(["failed", "failed", "delivered"]);
      expect(actionLines(w.notes[0]?.body).slice(0, 2)).toEqual(["pre 1", "pre 2"]);
      expect(retrying.map((r) => r.delayMs)).toEqual([60, 120]);
      expect(await w.deadLetters()).toEqual([]);
      expect(w.stats()).toMatchObject({ retries: 2, postFailures: 2, deadLettered: 0 });
      expect(w.maxConcurrentPerSession).toBe(1);
    });

    it("caps backoff at maxDelayMs and jitters within the configured fraction", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 20, maxDelayMs: 60, jitter: 0.5, maxAttempts: 10 }, random: () => 1 });
      const retrying = collect(w, "retrying");
      w.retryableNext(4, { status: 503 });
      await w.writeActions("c", "s", [slim("a", recentSeconds())]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(retrying.map((r) => r.delayMs)).toEqual([30, 60, 60, 60]);
    });

    it("honours a 429's retryAfterMs: no call before the hint, newer actions join, one post after it", async () => {
      const w = ctx.writer();
      w.retryableNext(1, { status: 429, retryAfterMs: 700 });
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await callsMade(w, 1);
      for (let i = 0; i < 5; i++) {
        await w.writeActions("c", "s", [slim(`b${i}`, t + 1 + i, 1 + i)]);
        await sleep(60);
      }
      expect(w.calls).toHaveLength(1);
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.calls).toHaveLength(2);
      expect((w.calls[1]?.at ?? 0) - (w.calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(650);
      expect(actionLines(w.notes[0]?.body)).toEqual(["a", "b0", "b1", "b2", "b3", "b4"]);
    });

    it("honours a retry hint on a plain error thrown by a JavaScript subclass", async () => {
      const w = ctx.writer();
      w.failNext(1, Object.assign(new Error("429"), { retryAfterMs: 500 }));
      await w.writeActions("c", "s", [slim("a", recentSeconds())]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect((w.calls[1]?.at ?? 0) - (w.calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(450);
    });
  });

  describe("throttled holds", () => {
    it("wait out the hold without spending the retry budget, and keep coalescing", async () => {
      const w = ctx.writer({ retry: { maxAttempts: 2 } });
      w.retryableNext(4, { retryAfterMs: 80, throttled: true, message: "spacing" });
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await callsMade(w, 2);
      await w.writeActions("c", "s", [slim("b", t + 1, 1)]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(actionLines(w.notes[0]?.body)).toEqual(["a", "b"]);
      expect(w.stats()).toMatchObject({ throttled: 4, postFailures: 0, retries: 0, deadLettered: 0 });
    });

    it("are bounded by maxHoldMs: past it, holds spend budget and the note is dead-lettered as hold_expired", async () => {
      const w = ctx.writer({ maxHoldMs: 300, retry: { maxAttempts: 2 } });
      w.retryableNext(500, { retryAfterMs: 50, throttled: true });
      await w.writeActions("c", "s", [slim("held", recentSeconds())]);
      await eventually(async () => expect(await w.deadLetters()).toHaveLength(1));
      expect((await w.deadLetters())[0]).toMatchObject({ reason: "hold_expired", sessionId: "s", actions: [{ description: "held" }] });
      expect(w.calls.length).toBeLessThan(40);
    });

    it("a retryAfterMs above 2^31-1 ms does not fire early (no call storm), throttled or not", async () => {
      const w = ctx.writer({ retry: { maxRetryAfterMs: MAX_TIMER_MS }, closeTimeoutMs: 300 });
      const huge = 2 ** 31 + 1_000;
      w.retryableNext(1, { retryAfterMs: huge, throttled: true });
      w.retryableNext(1, { status: 429, retryAfterMs: huge });
      const t = recentSeconds();
      await w.writeActions("c", "held", [slim("a", t)]);
      await callsMade(w, 1);
      await w.writeActions("c2", "limited", [slim("b", t)]);
      await callsMade(w, 2);
      await sleep(600);
      expect(w.calls).toHaveLength(2);
    });
  });

  describe("permanent errors and dead letters", () => {
    it("does not retry a permanent error: dead-letters at once, and the session is not wedged", async () => {
      const w = ctx.writer();
      w.goneNext();
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await eventually(async () => expect(await w.deadLetters()).toHaveLength(1));
      expect((await w.deadLetters())[0]).toMatchObject({ reason: "permanent_error", attempts: 1, conversationId: "c" });
      await w.writeActions("c", "s", [slim("b", t + 1, 1)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["b"]));
      expect(w.calls).toHaveLength(2);
    });

    it("dead-letters after the retry budget, visibly: event, deadLetters(), stats; takeDeadLetters empties", async () => {
      const w = ctx.writer({ retry: { maxAttempts: 3 } });
      const events = collect(w, "dead-lettered");
      w.failNext(3, new Error("boom"));
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0), slim("b", t + 1, 1)]);
      await eventually(() => expect(events).toHaveLength(1));
      const letters = await w.deadLetters();
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        sessionId: "s", conversationId: "c", reason: "retries_exhausted", error: "boom", attempts: 3, kind: "debounced",
        actions: [{ description: "a", timestamp_start: t }, { description: "b", timestamp_start: t + 1 }],
      });
      expect(typeof letters[0]?.id).toBe("string");
      expect(actionLines(letters[0]?.body)).toEqual(["a", "b"]);
      expect(events[0]?.id).toBe(letters[0]?.id);
      expect(w.calls).toHaveLength(3);
      expect(w.stats()).toMatchObject({ deadLettered: 1, deadLetteredActions: 2, postFailures: 3, retries: 2, deadLetters: 1 });
      expect((await w.takeDeadLetters()).map((l) => l.id)).toEqual([letters[0]?.id]);
      expect(await w.deadLetters()).toEqual([]);
      expect(await w.takeDeadLetters()).toEqual([]);
      await w.writeActions("c", "s", [slim("c", t + 5, 2)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["c"]));
    });

    it("bounds dead letters by count: the oldest are evicted first, and counted", async () => {
      const w = ctx.writer({ maxDeadLetters: 2 });
      const t = recentSeconds();
      for (const sid of ["s1", "s2", "s3"]) {
        w.goneNext();
        await w.writeActions("c", sid, [slim(sid, t)]);
        await eventually(() => expect(w.stats().deadLettered).toBe(Number(sid.slice(1))));
      }
      expect((await w.deadLetters()).map((l) => l.sessionId)).toEqual(["s2", "s3"]);
      expect(w.stats()).toMatchObject({ deadLettersEvicted: 1, deadLetters: 2 });
    });

    it("bounds dead letters by bytes (their JSON): the oldest are evicted first, and counted", async () => {
      const w = ctx.writer({ maxDeadLetterBytes: 10_000 });
      const t = recentSeconds();
      for (const sid of ["s1", "s2"]) {
        w.goneNext();
        await w.writeActions("c", sid, [slim(`${sid} ${"x".repeat(3_000)}`, t)]); // about 6.5 kB of JSON each
        await eventually(() => expect(w.stats().deadLettered).toBe(Number(sid.slice(1))));
        if (sid === "s1") expect(await w.deadLetters()).toHaveLength(1);
      }
      const kept = await w.deadLetters();
      expect(kept.map((l) => l.sessionId)).toEqual(["s2"]);
      expect(JSON.stringify(kept).length).toBeLessThanOrEqual(10_000);
      expect(w.stats().deadLettersEvicted).toBe(1);
    });

    it("re-drives chosen dead letters to the session's conversation, bypassing dedupe, and removes them", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      w.failNext(1, new PermanentDeliveryError("rejected", { status: 422 }));
      await w.writeActions("c", "s", [slim("lost 1", t, 0), slim("lost 2", t + 1, 1)]);
      w.failNext(1, new PermanentDeliveryError("rejected", { status: 422 }));
      await w.writeActions("c2", "s2", [slim("other", t, 0)]);
      await eventually(async () => expect(await w.deadLetters()).toHaveLength(2));
      const letters = await w.deadLetters();
      const first = letters.find((l) => l.sessionId === "s");
      const second = letters.find((l) => l.sessionId === "s2");
      expect(await w.redriveDeadLetters([first?.id ?? "", "no-such-letter"])).toMatchObject({ requeued: 1, actions: 2, missing: ["no-such-letter"] });
      await eventually(() => expect(deliveredLines(w)).toEqual(["lost 1", "lost 2"]));
      expect(w.notes[0]?.conversationId).toBe("c");
      expect((await w.deadLetters()).map((l) => l.id)).toEqual([second?.id]);
      expect(await w.redriveDeadLetters()).toMatchObject({ requeued: 1, actions: 1, missing: [] });
      await eventually(() => expect(w.notesIn("c2")).toHaveLength(1));
      expect(await w.deadLetters()).toEqual([]);
    });

    it("keeps the letters of a session with no conversation now (skipped) until it is linked again", async () => {
      const w = ctx.writer();
      w.conversationGoneNext();
      await w.writeActions("A", "s", [slim("gone", recentSeconds())]);
      await eventually(() => expect(w.stats().unlinked).toBe(1));
      const [letter] = await w.deadLetters();
      const id = letter?.id ?? "";
      const outcome = await w.redriveDeadLetters([id]);
      expect(outcome).toMatchObject({ requeued: 0, actions: 0, missing: [] });
      expect((outcome as { skipped?: string[] }).skipped).toEqual([id]);
      expect((await w.deadLetters()).map((l) => l.id)).toEqual([id]);
      await w.onSessionLinked("s", "B");
      expect(await w.redriveDeadLetters()).toMatchObject({ requeued: 1, actions: 1, missing: [] });
      await eventually(() => expect(deliveredLines(w)).toEqual(["gone"]));
      expect(w.notes[0]?.conversationId).toBe("B");
    });

    it("a re-driven note that fails again is dead-lettered again", async () => {
      const w = ctx.writer();
      w.goneNext(2);
      await w.writeActions("c", "s", [slim("unlucky", recentSeconds())]);
      await eventually(async () => expect(await w.deadLetters()).toHaveLength(1));
      const [letter] = await w.deadLetters();
      await w.redriveDeadLetters([letter?.id ?? ""]);
      await eventually(() => expect(w.stats().deadLettered).toBe(2));
      const now = await w.deadLetters();
      expect(now).toHaveLength(1);
      expect(now[0]?.id).not.toBe(letter?.id);
      expect(now[0]?.actions.map((a) => a.description)).toEqual(["unlucky"]);
    });
  });

  describe("a conversation that is gone", () => {
    it("dead-letters the note (conversation_gone), unlinks the session, and keeps later actions as pre-link until a new link", async () => {
      const w = ctx.writer();
      const unlinked = collect(w, "unlinked");
      const gate = w.gateNext();
      const t = recentSeconds();
      await w.writeActions("A", "s", [slim("a", t, 0)]);
      await gate.started;
      await w.writeActions("A", "s", [slim("pending", t + 1, 1)]); // waits behind the call in flight
      gate.fail(new ConversationGoneError("simulated 404", { status: 404 }));
      await eventually(() => expect(unlinked).toHaveLength(1));
      expect(unlinked[0]).toMatchObject({ sessionId: "s", conversationId: "A", reason: "conversation_gone", bufferedActions: 1 });
      expect(typeof unlinked[0]?.error).toBe("string");
      const letters = await w.deadLetters();
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ reason: "conversation_gone", conversationId: "A", actions: [{ description: "a" }] });
      expect(w.stats().unlinked).toBe(1);
      expect(await w.linkedConversation("s")).toBeNull();

      await w.writeActions(null, "s", [slim("later", t + 2, 2)]);
      await w.writeActions("A", "s", [slim("names the gone one", t + 3, 3)]); // must not re-link to A
      await sleep(300);
      expect(w.calls).toHaveLength(1);
      expect(await w.linkedConversation("s")).toBeNull();

      await w.onSessionLinked("s", "B");
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.notes[0]?.conversationId).toBe("B");
      expect(actionLines(w.notes[0]?.body)).toEqual(["pending", "later", "names the gone one"]);
      expect(w.calls.filter((c) => c.conversationId === "A")).toHaveLength(1);
      expect(await w.linkedConversation("s")).toBe("B");
    });

    it("applies the window to actions moved back to the pre-link buffer, and counts those trimmed", async () => {
      let offset = 0;
      const w = ctx.writer({ preLinkWindowMs: 10_000, now: () => Date.now() + offset });
      const gate = w.gateNext();
      const t = Date.now() / 1000;
      await w.writeActions("A", "s", [slim("a", t - 1, 0)]);
      await gate.started;
      await w.writeActions("A", "s", [slim("old", t - 8, 1)]);
      offset = 5_000; // "old" is 13 s old now: out of the window once it is pre-link again
      gate.fail(new ConversationGoneError("simulated 410", { status: 410 }));
      await eventually(() => expect(w.stats().unlinked).toBe(1));
      await w.writeActions(null, "s", [slim("fresh", t + 4, 2)]);
      await w.onSessionLinked("s", "B");
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(actionLines(w.notes[0]?.body)).toEqual(["fresh"]);
      expect(w.stats().actionsTrimmed).toBe(1);
    });

    it("an explicit onSessionLinked to the same conversation links it again", async () => {
      const w = ctx.writer();
      w.conversationGoneNext(1, 410);
      const t = recentSeconds();
      await w.writeActions("A", "s", [slim("a", t, 0)]);
      await eventually(() => expect(w.stats().unlinked).toBe(1));
      await w.writeActions(null, "s", [slim("b", t + 1, 1)]);
      await w.onSessionLinked("s", "A");
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(actionLines(w.notes[0]?.body)).toEqual(["b"]);
      expect(await w.linkedConversation("s")).toBe("A");
    });
  });

  describe("slow calls and one call per session", () => {
    it("awaits a call past postTimeoutMs: no second call while it may land, the late success counts once, order kept", async () => {
      const w = ctx.writer({ postTimeoutMs: 100 });
      // With a shared backend, an idle sibling would steal a lease that is not renewed while the call is pending.
      const writers = ctx.traits.shared ? [w, ctx.writer({ postTimeoutMs: 100 })] : [w];
      let slowCalls = 0;
      for (const x of writers) x.behaviourFor = (c) => (c.body.endsWith("] slow") && slowCalls++ === 0 ? { kind: "delay", ms: 1_000 } : undefined);
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("slow", t, 0)]);
      await eventually(() => expect(slowCalls).toBe(1));
      await sleep(250); // past the timeout: the call is still pending
      await w.writeActions("c", "s", [slim("next", t + 1, 1)]);
      await eventually(() => expect(writers.flatMap((x) => x.notes).length).toBe(2));
      await sleep(200);
      const all = writers.flatMap((x) => x.calls).sort((x, y) => x.at - y.at);
      expect(all.map((c) => actionLines(c.body))).toEqual([["slow"], ["next"]]);
      expect(all[1]?.at).toBeGreaterThanOrEqual(all[0]?.settledAt ?? Number.POSITIVE_INFINITY);
      expect(Math.max(...writers.map((x) => x.maxConcurrentPerSession))).toBe(1);
      const stats = writers.map((x) => x.stats());
      expect(stats.reduce((n, x) => n + x.notesPosted, 0)).toBe(2);
      expect(stats.reduce((n, x) => n + x.retries + x.postFailures, 0)).toBe(0);
      expect(await w.getPartIds("s")).toHaveLength(2);
    });
  });

  describe("idempotency keys", () => {
    it("keep one key and one body across retries of a note that may have landed (no status: reset connection)", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 150, maxAttempts: 5 } });
      w.failNext(2, Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await callsMade(w, 1);
      await w.writeActions("c", "s", [slim("b", t + 1, 1)]); // must not join the frozen note
      await eventually(() => expect(deliveredLines(w)).toEqual(["a", "b"]));
      const [c1, c2, c3, c4] = w.calls;
      expect(w.calls).toHaveLength(4);
      expect([c2?.idempotencyKey, c3?.idempotencyKey]).toEqual([c1?.idempotencyKey, c1?.idempotencyKey]);
      expect([c2?.body, c3?.body]).toEqual([c1?.body, c1?.body]);
      expect(c4?.idempotencyKey).not.toBe(c1?.idempotencyKey);
      expect(typeof c1?.idempotencyKey).toBe("string");
      expect(c1?.idempotencyKey).not.toBe("");
    });

    it("stay frozen after a call that outlived postTimeoutMs and then ended without an answer", async () => {
      const w = ctx.writer({ postTimeoutMs: 100, retry: { baseDelayMs: 100 } });
      w.delayNext(400, 1, new Error("connection closed after the timeout"));
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await callsMade(w, 1);
      await sleep(200);
      await w.writeActions("c", "s", [slim("b", t + 1, 1)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["a", "b"]));
      expect(w.calls[1]?.idempotencyKey).toBe(w.calls[0]?.idempotencyKey);
      expect(w.calls[1]?.body).toBe(w.calls[0]?.body);
    });

    it("are new for a note that absorbed newer actions after an answered refusal (503)", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 250 } });
      w.failNext(1, new RetryableDeliveryError("503", { status: 503 }));
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("a", t, 0)]);
      await callsMade(w, 1);
      await w.writeActions("c", "s", [slim("b", t + 1, 1)]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.calls).toHaveLength(2);
      expect(actionLines(w.calls[1]?.body)).toEqual(["a", "b"]);
      expect(w.calls[1]?.idempotencyKey).not.toBe(w.calls[0]?.idempotencyKey);
    });

    it("differ between notes, and the at-link flush note goes first even when it fails", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 100 } });
      w.retryableNext(2, { status: 502 });
      const t = recentSeconds();
      await w.writeActions(null, "s", [slim("pre", t, 0)]);
      await w.onSessionLinked("s", "c");
      await w.writeActions("c", "s", [slim("post", t + 1, 1)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["pre", "post"]));
      expect(actionLines(w.notes[0]?.body)[0]).toBe("pre");
      const keys = w.notes.map((n) => n.idempotencyKey);
      expect(new Set(keys).size).toBe(keys.length);
    });
  });
}
