import { describe, expect, it } from "vitest";
import { slim } from "./actions.js";
import {
  actionLines, callsMade, collect, deliveredLines, eventually, header, recentSeconds, sleep, type PolicyContext,
} from "./delivery-policy-harness.js";

/** Pre-link window, the at-link flush, links made by writes and by `onSessionLinked`, empty batches. */
export function describeBufferingAndLinks(ctx: PolicyContext): void {
  describe("pre-link buffering and the at-link flush", () => {
    it("posts nothing before the link, then every pre-link batch as ONE binned note (byte-exact) and emits linked", async () => {
      const w = ctx.writer();
      const linked = collect(w, "linked");
      const base = recentSeconds();
      await w.writeActions(null, "s-42", [slim("Opened Billing", base, 0)]);
      await w.writeActions(null, "s-42", [slim("Clicked Upgrade", base + 0.5, 1)]);
      await w.writeActions(null, "s-42", [slim("Submitted card form", base + 7, 2)]);
      await sleep(200);
      expect(w.calls).toHaveLength(0);
      await w.onSessionLinked("s-42", "conv-1");
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.calls.map((c) => [c.conversationId, c.body])).toEqual([
        ["conv-1", `${header("s-42", base)}[1] Opened Billing\n[2] Clicked Upgrade\n\n[3] Submitted card form`],
      ]);
      expect(linked).toEqual([{ sessionId: "s-42", conversationId: "conv-1", bufferedActions: 3 }]);
    });

    it("trims pre-link actions older than the window on every arrival, and counts them", async () => {
      let offset = 0;
      const w = ctx.writer({ preLinkWindowMs: 10_000, now: () => Date.now() + offset });
      const t = Date.now() / 1000;
      const first = await w.writeActions(null, "s", [slim("too old", t - 12, 0), slim("fresh", t - 2, 1)]);
      expect(first.trimmed).toBe(1);
      offset = 9_000; // "fresh" is 11 s old now
      const second = await w.writeActions(null, "s", [slim("newest", t + 8, 2)]);
      expect(second.trimmed).toBe(1);
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(w.notes).toHaveLength(1));
      expect(actionLines(w.notes[0]?.body)).toEqual(["newest"]);
      expect(w.stats().actionsTrimmed).toBe(2);
    });

    it("stamps actions without a usable timestamp with their arrival time instead of dropping them", async () => {
      const w = ctx.writer();
      const before = Math.floor(Date.now() / 1000);
      await w.writeActions(null, "s", [{ description: "no time" }, { description: "zero", timestamp_start: 0 }]);
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(w.notes).toHaveLength(1));
      const body = w.notes[0]?.body ?? "";
      expect(body).toMatch(/^session_id: s\ntimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\n\[1\] no time\n\[2\] zero$/);
      const stamped = Date.parse(`${body.split("\n")[1]?.slice("timestamp: ".length, -" UTC".length).replace(" ", "T")}Z`) / 1000;
      expect(stamped).toBeGreaterThanOrEqual(before - 1);
      expect(stamped).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    });

    it("flushes once when the same link arrives again, and posts nothing at a link with nothing buffered", async () => {
      const w = ctx.writer();
      await w.writeActions(null, "s", [slim("a", recentSeconds())]);
      await w.onSessionLinked("s", "c");
      await w.onSessionLinked("s", "c");
      await eventually(() => expect(w.notes).toHaveLength(1));
      await w.onSessionLinked("s", "c");
      await w.onSessionLinked("empty", "c2");
      await sleep(250);
      expect(w.calls).toHaveLength(1);
    });

    it("keeps sessions apart: one session's buffer never reaches another's note", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      await w.writeActions(null, "s1", [slim("one", t)]);
      await w.writeActions(null, "s2", [slim("two", t)]);
      await w.onSessionLinked("s1", "c1");
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(150);
      expect(w.calls.map((c) => [c.conversationId, actionLines(c.body)])).toEqual([["c1", ["one"]]]);
    });
  });

  describe("an empty batch", () => {
    it("changes nothing: no session entry, no link, no event, no call, no stored state", async () => {
      const w = ctx.writer();
      const linked = collect(w, "linked");
      const before = await ctx.backend().footprint?.();
      expect(await w.writeActions("c", "s", [])).toEqual({ accepted: 0, duplicates: 0, trimmed: 0 });
      expect(await w.writeActions(null, "s2", [])).toEqual({ accepted: 0, duplicates: 0, trimmed: 0 });
      expect(w.stats().sessions).toBe(0);
      expect(await w.linkedConversation("s")).toBeNull();
      if (before !== undefined) expect(await ctx.backend().footprint?.()).toBe(before);
      await sleep(150);
      expect(linked).toEqual([]);
      expect(w.calls).toHaveLength(0);
    });
  });

  describe("links made by writes", () => {
    it("a first write naming a conversation makes the link: linked with the flushed count, flush note first", async () => {
      const w = ctx.writer();
      const linked = collect(w, "linked");
      const t = recentSeconds();
      await w.writeActions(null, "s", [slim("before", t, 0)]);
      await w.writeActions("c", "s", [slim("after", t + 1, 1)]);
      await eventually(() => expect(w.notes).toHaveLength(2));
      expect(w.notes.map((n) => [n.conversationId, actionLines(n.body)])).toEqual([["c", ["before"]], ["c", ["after"]]]);
      expect(linked).toEqual([{ sessionId: "s", conversationId: "c", bufferedActions: 1 }]);
      expect(await w.linkedConversation("s")).toBe("c");
    });

    it("uses the engine's link when a write names no conversation, and says where each write went", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      expect((await w.writeActions(null, "s", [slim("waits", t, 0)])).conversationId).toBeNull();
      await w.onSessionLinked("s", "c");
      expect((await w.writeActions(null, "s", [slim("a", t + 1, 1)])).conversationId).toBe("c");
      expect((await w.writeActions("other", "s", [slim("b", t + 2, 2)])).conversationId).toBe("c");
      expect((await w.writeActions("first", "s2", [slim("x", t, 0)])).conversationId).toBe("first");
      await eventually(() => expect(w.notesIn("c").flatMap((n) => actionLines(n.body))).toEqual(["waits", "a", "b"]));
    });

    it("a write naming another conversation does not re-target the session (only onSessionLinked does)", async () => {
      const w = ctx.writer();
      const linked = collect(w, "linked");
      const t = recentSeconds();
      await w.onSessionLinked("s", "A");
      await w.writeActions("B", "s", [slim("stale instance", t, 0)]);
      await w.writeActions("first", "s2", [slim("x", t, 0)]);
      await w.writeActions("other", "s2", [slim("y", t + 1, 1)]);
      await eventually(() => expect(deliveredLines(w)).toHaveLength(3));
      await sleep(100);
      expect(w.calls.every((c) => c.conversationId === (c.sessionId === "s" ? "A" : "first"))).toBe(true);
      expect(await w.linkedConversation("s")).toBe("A");
      expect(await w.linkedConversation("s2")).toBe("first");
      expect(linked.map((e) => [e.sessionId, e.conversationId])).toEqual([["s", "A"], ["s2", "first"]]);
    });
  });

  describe("re-linking with onSessionLinked", () => {
    it("sends later notes, and the note still owed, to the new conversation, in order", async () => {
      const w = ctx.writer({ retry: { baseDelayMs: 400 } });
      w.retryableNext(1, { status: 503 });
      const t = recentSeconds();
      await w.writeActions(null, "s", [slim("pre", t, 0)]);
      await w.onSessionLinked("s", "A");
      await eventually(() => expect(w.calls[0]?.outcome).toBe("failed")); // its retry waits 400 ms
      await w.onSessionLinked("s", "B");
      await w.writeActions(null, "s", [slim("post", t + 5, 1)]);
      await eventually(() => expect(deliveredLines(w)).toEqual(["pre", "post"]));
      expect(w.calls[0]?.conversationId).toBe("A");
      expect(w.calls.slice(1).map((c) => c.conversationId)).toEqual(w.calls.slice(1).map(() => "B"));
      expect(await w.linkedConversation("s")).toBe("B");
    });
  });

  describe("post-link debounce and maxWaitMs", () => {
    it("coalesces a burst into ONE unbinned note after the quiet period (byte-exact)", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 150, maxWaitMs: 5_000 });
      await w.onSessionLinked("s", "c");
      const t = recentSeconds();
      for (let i = 0; i < 5; i++) await w.writeActions("c", "s", [slim(`click ${i}`, t + i * 5, i)]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      await sleep(300);
      expect(w.calls).toHaveLength(1);
      expect(w.calls[0]?.body).toBe(`${header("s", t)}[1] click 0\n[2] click 1\n[3] click 2\n[4] click 3\n[5] click 4`);
    });

    it("a pause longer than the quiet period starts a new note", async () => {
      const w = ctx.writer();
      const t = recentSeconds();
      await w.writeActions("c", "s", [slim("first", t, 0)]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      await w.writeActions("c", "s", [slim("second", t + 1, 1)]);
      await eventually(() => expect(w.notes).toHaveLength(2));
      expect(w.notes.map((n) => actionLines(n.body))).toEqual([["first"], ["second"]]);
    });

    it("forces a note every maxWaitMs under a continuous stream, and delivers every action once, in order", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 100, maxWaitMs: 300 });
      await w.onSessionLinked("s", "c");
      const t = recentSeconds();
      const sent: string[] = [];
      const until = Date.now() + 1_500;
      for (let i = 0; Date.now() < until; i++) {
        sent.push(`tick ${i}`);
        await w.writeActions("c", "s", [slim(`tick ${i}`, t + i / 100, i)]);
        await sleep(25);
      }
      // The stream never paused for 100 ms (a loaded machine may stretch a gap, hence ≥ 2, not 5).
      expect(w.notes.length).toBeGreaterThanOrEqual(2);
      await eventually(() => expect(deliveredLines(w)).toEqual(sent));
      expect(w.maxConcurrentPerSession).toBe(1);
    });
  });

  describe("order and one post at a time", () => {
    it("puts actions that arrive while a post is in flight into a later note, never beside or before it", async () => {
      const w = ctx.writer();
      const gate = w.gateNext();
      const t = recentSeconds();
      await w.writeActions(null, "s", [slim("pre", t, 0)]);
      await w.onSessionLinked("s", "c");
      await gate.started;
      await w.writeActions("c", "s", [slim("during flush 1", t + 1, 1)]);
      await w.writeActions("c", "s", [slim("during flush 2", t + 2, 2)]);
      await sleep(250); // the debounce ends while the flush is still in flight
      expect(w.calls).toHaveLength(1);
      gate.release();
      await eventually(() => expect(w.notes).toHaveLength(2));
      expect(w.notes.map((n) => actionLines(n.body))).toEqual([["pre"], ["during flush 1", "during flush 2"]]);
      expect(w.maxConcurrentPerSession).toBe(1);
    });

    it("never makes one session wait for another", async () => {
      const w = ctx.writer();
      const gate = w.gateNext();
      const t = recentSeconds();
      await w.writeActions("c1", "slow", [slim("a", t)]);
      await gate.started;
      await w.writeActions("c2", "fast", [slim("b", t)]);
      await eventually(() => expect(w.notesIn("c2")).toHaveLength(1));
      gate.release();
      await eventually(() => expect(w.notesIn("c1")).toHaveLength(1));
    });

    it("keeps many notes of one session in order through a slow platform", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 20, maxWaitMs: 60 });
      w.delayNext(60, 20);
      await w.onSessionLinked("s", "c");
      const t = recentSeconds();
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) {
        sent.push(`n${i}`);
        await w.writeActions("c", "s", [slim(`n${i}`, t + i, i)]);
        await sleep(15);
      }
      await eventually(() => expect(deliveredLines(w)).toEqual(sent));
      expect(w.maxConcurrentPerSession).toBe(1);
      await callsMade(w, 2);
    });
  });
}
