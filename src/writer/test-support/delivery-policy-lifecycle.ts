import { describe, expect, it } from "vitest";
import { WriterClosedError } from "../../errors.js";
import { parseActionsPayload } from "../../payloads/parse.js";
import type { RecordingChatbotWriter } from "../../testing/index.js";
import type { CloseSummary } from "../events.js";
import { slim } from "./actions.js";
import {
  actionLines, callsMade, collect, deliveredLines, eventually, recentSeconds, sleep, type PolicyContext,
} from "./delivery-policy-harness.js";

/** A wire payload as the connector sends it, parsed by the lenient parser (so defaulted fields are known). */
function payload(sessionId: string, actions: unknown[], forwardedAt: number) {
  return parseActionsPayload(
    JSON.stringify({ type: "actions", product_id: "p", session_id: sessionId, actions, count: actions.length, forwarded_at: forwardedAt }),
  ).actions;
}

/** `w.close()`, failing the test (instead of timing it out) when it takes longer than `ms`. */
async function closeWithin(w: RecordingChatbotWriter, ms: number): Promise<CloseSummary> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`close() did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([w.close(), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Dedupe, part ids, large flushes, flush and close. */
export function describeLifecycle(ctx: PolicyContext): void {
  describe("dedupe", () => {
    it("counts a replayed batch once: WriteOutcome.duplicates, stats.actionsDuplicate, a duplicates event", async () => {
      const w = ctx.writer();
      const duplicates = collect(w, "duplicates");
      const t = recentSeconds();
      const batch = [slim("x", t, 0), slim("y", t + 1, 1), slim("z", t + 2, 2)];
      await w.onSessionLinked("s", "c");
      expect(await w.writeActions("c", "s", batch)).toMatchObject({ accepted: 3, duplicates: 0, trimmed: 0 });
      expect(await w.writeActions("c", "s", batch)).toMatchObject({ accepted: 0, duplicates: 3, trimmed: 0 });
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.calls).toHaveLength(1);
      expect(deliveredLines(w)).toEqual(["x", "y", "z"]);
      expect(w.stats().actionsDuplicate).toBe(3);
      expect(duplicates).toEqual([{ sessionId: "s", count: 3 }]);
    });

    it("counts a replay once even after the note went out, and before the link (one flush line each)", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      const pre = [slim("pre", t, 0)];
      await w.writeActions(null, "s", pre);
      expect((await w.writeActions(null, "s", pre)).duplicates).toBe(1);
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect((await w.writeActions("c", "s", pre)).duplicates).toBe(1);
      const post = [slim("post", t + 1, 1)];
      await w.writeActions("c", "s", post);
      await eventually(() => expect(w.notes).toHaveLength(2));
      expect((await w.writeActions("c", "s", post)).duplicates).toBe(1);
      await sleep(200);
      expect(deliveredLines(w)).toEqual(["pre", "post"]);
    });

    it("counts a batch re-sent with a new forwarded_at once, with or without wire index and timestamps", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      const wire = [
        { index: 5, type: "click", description: "identified", canonical_url: "/a", timestamp_start: t, timestamp_end: t + 1 },
        { type: "click", description: "no index, no stamp" },
      ];
      await w.onSessionLinked("s", "c");
      expect(await w.writeActions("c", "s", payload("s", wire, t))).toMatchObject({ accepted: 2, duplicates: 0 });
      expect(await w.writeActions("c", "s", payload("s", wire, t + 30))).toMatchObject({ accepted: 0, duplicates: 2 });
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(deliveredLines(w).sort()).toEqual(["identified", "no index, no stamp"]);
      expect(w.stats().actionsDuplicate).toBe(2);
    });

    it("delivers every distinct action: index 0 with whole-second stamps (the quick-start shape), and no index at all", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      await w.writeActions(null, "s", payload("s", [{ index: 0, type: "pageview", description: "Opened Home", timestamp_start: t }], t));
      await w.writeActions(null, "s", payload("s", [{ index: 0, type: "click", description: "Clicked Pricing", timestamp_start: t }], t));
      await w.writeActions(null, "s", payload("s", [{ index: 0, type: "click", description: "Clicked Buy", timestamp_start: t }], t));
      await w.writeActions(null, "s", payload("s", [{ description: "bare one" }], t));
      await w.writeActions(null, "s", payload("s", [{ description: "bare two" }], t));
      await w.writeActions(null, "s", payload("s", [{ description: "same text" }, { description: "same text" }], t));
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(deliveredLines(w)).toHaveLength(7));
      expect(deliveredLines(w).sort()).toEqual(["Clicked Buy", "Clicked Pricing", "Opened Home", "bare one", "bare two", "same text", "same text"]);
      expect(w.stats().actionsDuplicate).toBe(0);
    });

    it("counts an action repeated within one batch once", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      const twice = slim("twice", t, 3);
      await w.onSessionLinked("s", "c");
      expect(await w.writeActions("c", "s", [twice, { ...twice }, slim("once", t + 1, 4)])).toMatchObject({ accepted: 2, duplicates: 1, trimmed: 0 });
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(deliveredLines(w)).toEqual(["twice", "once"]);
    });
  });

  describe("dedupe memory bounds", () => {
    it("forgets ids past dedupeWindowMs, and the oldest beyond maxDedupeIds, so such replays are new again", async () => {
      let offset = 0;
      const w = ctx.writer({ dedupeWindowMs: 60_000, maxDedupeIds: 2, now: () => Date.now() + offset });
      const t = recentSeconds();
      const [a, b, c] = [slim("a", t, 0), slim("b", t + 1, 1), slim("c", t + 2, 2)];
      await w.onSessionLinked("s", "c");
      for (const action of [a, b, c]) {
        expect((await w.writeActions("c", "s", [action])).accepted).toBe(1);
        offset += 10; // "oldest" needs distinct arrival times (Redis scores ids by ms)
      }
      expect(await w.writeActions("c", "s", [c])).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(await w.writeActions("c", "s", [a])).toMatchObject({ accepted: 1, duplicates: 0 }); // beyond maxDedupeIds
      offset += 61_000;
      expect(await w.writeActions("c", "s", [c])).toMatchObject({ accepted: 1, duplicates: 0 }); // past the window
      // Notes sort their lines by timestamp_start, so replays of older actions are compared as a multiset.
      await eventually(() => expect(deliveredLines(w).sort()).toEqual(["a", "a", "b", "c", "c"]));
    });
  });

  describe("part ids", () => {
    it("records every delivered note's id per session, in order; getPartIds reads, takePartIds takes", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      for (let i = 0; i < 3; i++) {
        await w.writeActions("c", "s", [slim(`a${i}`, t + i, i)]);
        await eventually(() => expect(w.notes).toHaveLength(i + 1));
      }
      w.script({ kind: "ok", partId: null });
      await w.writeActions("c", "s", [slim("no id", t + 9, 9)]);
      await eventually(() => expect(w.notes).toHaveLength(4));
      await w.writeActions("c", "other", [slim("elsewhere", t, 0)]);
      await eventually(() => expect(w.notes).toHaveLength(5));
      await w.onIdle();
      expect(await w.getPartIds("s")).toEqual(["part-1", "part-2", "part-3"]);
      expect(await w.takePartIds("s")).toEqual(["part-1", "part-2", "part-3"]);
      expect(await w.getPartIds("s")).toEqual([]);
      expect(await w.getPartIds("other")).toEqual(["part-4"]);
    });
  });

  describe("large flushes", () => {
    it("splits a flush of many actions by maxNoteActions into ordered notes that lose nothing", async () => {
      const w = ctx.writer({ maxNoteActions: 100 });
      const t = recentSeconds();
      const actions = Array.from({ length: 250 }, (_, i) => slim(`action ${i}`, t + i / 1000, i));
      await w.writeActions(null, "s", actions);
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(deliveredLines(w)).toHaveLength(250));
      expect(deliveredLines(w)).toEqual(actions.map((a) => a.description));
      expect(w.notes.map((n) => actionLines(n.body).length)).toEqual([100, 100, 50]);
      expect(w.notes.every((n) => n.body.includes("\n\n[1] "))).toBe(true); // numbering restarts per note
    });

    it("splits by maxNoteChars, and splits a large post-link batch too", async () => {
      const w = ctx.writer({ maxNoteChars: 1_000 });
      const t = recentSeconds();
      const pre = Array.from({ length: 30 }, (_, i) => slim(`pre ${i} ${"p".repeat(90)}`, t + i / 100, i));
      await w.writeActions(null, "s", pre);
      await w.onSessionLinked("s", "c");
      const post = Array.from({ length: 30 }, (_, i) => slim(`post ${i} ${"q".repeat(90)}`, t + 1 + i / 100, 100 + i));
      await w.writeActions("c", "s", post);
      await eventually(() => expect(deliveredLines(w)).toHaveLength(60));
      expect(deliveredLines(w)).toEqual([...pre, ...post].map((a) => a.description));
      expect(w.notes.length).toBeGreaterThanOrEqual(6);
      for (const n of w.notes) expect(actionLines(n.body).join("\n").length).toBeLessThanOrEqual(1_200);
    });
  });

  describe("flush", () => {
    it("posts debounced notes now and resolves once they settled", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 5_000, maxWaitMs: 10_000 });
      const t = recentSeconds();
      await w.writeActions("c1", "s1", [slim("a", t)]);
      await w.writeActions("c2", "s2", [slim("b", t)]);
      await w.flush();
      expect(w.notes.map((n) => n.conversationId).sort()).toEqual(["c1", "c2"]);
    });

    it("resolves under a continuous stream to a slow platform", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 20, maxWaitMs: 50 });
      w.delayNext(40, 100);
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("owed", t, 0)]);
      let flushed = false;
      const flushing = w.flush().then(() => (flushed = true));
      for (let i = 1; i < 200 && !flushed; i++) {
        await w.writeActions("c", "s", [slim(`more ${i}`, t + i / 100, i)]);
        await sleep(10);
      }
      await flushing;
      expect(actionLines(w.notes[0]?.body)[0]).toBe("owed");
    });
  });

  describe("close", () => {
    it("delivers open debounce windows, stops intake, is safe to call twice, and reports a clean summary", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 5_000, maxWaitMs: 10_000 });
      await w.writeActions("c", "s", [slim("pending", recentSeconds())]);
      const first = w.close();
      const second = w.close();
      await expect(w.writeActions("c", "s", [slim("late", recentSeconds())])).rejects.toBeInstanceOf(WriterClosedError);
      expect(await first).toEqual({ deadLettered: 0, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 0, unlinkedSessions: 0 });
      expect(await second).toEqual(await first);
      expect(deliveredLines(w)).toEqual(["pending"]);
      expect(await w.getPartIds("s")).toEqual(["part-1"]);
    });

    it("waits for a post in flight at close and records its delivery", async () => {
      const w = ctx.writer({ closeTimeoutMs: 3_000 });
      w.delayNext(400);
      await w.writeActions("c", "s", [slim("in flight", recentSeconds())]);
      await callsMade(w, 1);
      expect(await w.close()).toMatchObject({ deadLettered: 0, unconfirmed: 0 });
      expect(w.notes).toHaveLength(1);
      expect(w.stats().notesPosted).toBe(1);
    });

    it("reports never-linked actions instead of dropping them silently (memory), or keeps them (durable)", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      await w.writeActions(null, "s1", [slim("a", t, 0), slim("b", t + 1, 1)]);
      await w.writeActions(null, "s2", [slim("c", t, 0)]);
      const summary = await w.close();
      if (ctx.traits.durable) {
        expect(summary).toMatchObject({ deadLettered: 0, unconfirmed: 0 });
        const later = ctx.writer();
        await later.onSessionLinked("s1", "c1");
        await eventually(() => expect(deliveredLines(later)).toEqual(["a", "b"]));
      } else {
        expect(summary).toEqual({ deadLettered: 0, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 3, unlinkedSessions: 2 });
      }
    });

    it("is bounded by closeTimeoutMs even when the platform never answers; the call is counted unconfirmed", async () => {
      const w = ctx.writer({ closeTimeoutMs: 500, postTimeoutMs: 200 });
      w.neverSettleNext();
      await w.writeActions("c", "s", [slim("limbo", recentSeconds())]);
      await callsMade(w, 1);
      const started = Date.now();
      const summary = await closeWithin(w, 3_000);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(summary.unconfirmed).toBe(1);
      if (ctx.traits.durable) {
        expect(summary.deadLettered).toBe(0);
        expect(summary.leftInRedis).toBeGreaterThanOrEqual(1);
      } else {
        expect(summary).toMatchObject({ deadLettered: 1, leftInRedis: 0 });
        const [letter] = await w.deadLetters();
        expect(letter).toMatchObject({ reason: "shutdown", actions: [{ description: "limbo" }] });
        expect(letter?.error).toMatch(/may have been delivered/i);
      }
    });

    it("accounts at the bound for a note waiting for its retry: dead-lettered (memory) or left for another instance", async () => {
      const w = ctx.writer({ closeTimeoutMs: 400, retry: { baseDelayMs: 10_000 } });
      w.retryableNext(1, { status: 503 });
      await w.writeActions("c", "s", [slim("waiting", recentSeconds())]);
      await eventually(() => expect(w.calls[0]?.outcome).toBe("failed"));
      const started = Date.now();
      const summary = await closeWithin(w, 3_000);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(summary.unconfirmed).toBe(0);
      if (ctx.traits.durable) expect(summary.deadLettered).toBe(0);
      else expect(summary.leftInRedis).toBe(0);
      // Delivered during the drain, or accounted for: never silently gone.
      expect(w.notes.length + summary.deadLettered + summary.leftInRedis).toBe(1);
      if (summary.deadLettered === 1) expect((await w.deadLetters())[0]?.reason).toBe("shutdown");
    });
  });
}
