import { describe, expect, it } from "vitest";
import { PermanentDeliveryError } from "../../errors.js";
import { AutoplayChatbotManager } from "../../manager/autoplay-chatbot-manager.js";
import { AgentContextWriter } from "../../summaries/agent-context-writer.js";
import { SessionSummarizer } from "../../summaries/session-summarizer.js";
import { ScriptedLlm, type RecordedCall, type RecordingChatbotWriter } from "../../testing/index.js";
import { slim } from "./actions.js";
import { actionLines, collect, eventually, recentSeconds, sleep, type PolicyContext } from "./delivery-policy-harness.js";

const SESSION = "s";
const CONVERSATION = "c";

/** A manager with an LLM summarizer on `w`, the way an application wires summaries. */
function summariesOn(w: RecordingChatbotWriter, threshold: number) {
  const llm = new ScriptedLlm();
  const summarizer = new SessionSummarizer({ llm: llm.llm, threshold, logger: {} });
  const contextWriter = new AgentContextWriter({ writer: w, summarizer });
  const manager = new AutoplayChatbotManager({ writer: w, contextWriter });
  let index = 0;
  const t = recentSeconds();
  /** Sends one action and waits until its note is delivered (one note per action). */
  const note = async (description: string): Promise<RecordedCall> => {
    const before = w.notes.length;
    await manager.onActions({ type: "actions", product_id: "p", session_id: SESSION, actions: [slim(description, t + index, index++)] });
    await eventually(() => expect(w.notes.length).toBe(before + 1));
    return w.notes[before] as RecordedCall;
  };
  return { llm, manager, note, contextWriter };
}

function isSummary(call: RecordedCall | undefined, prose: string): boolean {
  return call !== undefined && call.body.endsWith(`\n\n${prose}`) && call.body.startsWith(`session_id: ${SESSION}\ntimestamp: `);
}

/** The summary overwrite step (SPEC §8, docs/summaries.md): post the summary, then redact exactly what it covers. */
export function describeSummaries(ctx: PolicyContext): void {
  describe("summaries", () => {
    it("posts the action notes, then the summary note, then redacts exactly the covered notes, in that order", async () => {
      const w = ctx.writer();
      const { llm, manager, note } = summariesOn(w, 3);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      const thinking = llm.gateNext();
      const covered = [await note("Opened Billing"), await note("Clicked Upgrade"), await note("Submitted card form")];
      const prompt = await thinking.started;
      for (const d of ["Opened Billing", "Clicked Upgrade", "Submitted card form"]) expect(prompt).toContain(d);
      thinking.release("The user tried to upgrade.");
      await eventually(() => expect(w.redactedPartIds).toHaveLength(3));
      const summary = w.notes[3];
      expect(isSummary(summary, "The user tried to upgrade.")).toBe(true);
      expect(w.redactedPartIds).toEqual(covered.map((c) => c.partId));
      // Every redaction started after the platform confirmed the summary.
      for (const r of w.redactions) expect(r.tick).toBeGreaterThan(summary?.settledTick ?? Infinity);
      expect(w.redactions.every((r) => r.conversationId === CONVERSATION)).toBe(true);
      await sleep(100);
      expect(w.redactedPartIds).not.toContain(summary?.partId);
      expect(w.stats()).toMatchObject({ summariesPosted: 1, redactions: 3, redactionsFailed: 0 });
    });

    it("does not redact a note posted while the LLM was thinking", async () => {
      const w = ctx.writer();
      const { llm, manager, note } = summariesOn(w, 2);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      const thinking = llm.gateNext();
      const covered = [await note("a"), await note("b")];
      await thinking.started;
      const meanwhile = await note("posted while thinking");
      thinking.release("They did a and b.");
      await eventually(() => expect(w.redactedPartIds).toHaveLength(2));
      expect(isSummary(w.notes[3], "They did a and b.")).toBe(true);
      expect(w.redactedPartIds).toEqual(covered.map((c) => c.partId));
      await sleep(100);
      expect(w.redactedPartIds).not.toContain(meanwhile.partId);
    });

    it("never redacts a covered note delivered after the snapshot", async () => {
      const w = ctx.writer({ postLinkDebounceMs: 150 });
      await w.onSessionLinked(SESSION, CONVERSATION);
      const t = recentSeconds();
      const first = await w.writeActions(CONVERSATION, SESSION, [slim("delivered", t, 0)]);
      await eventually(() => expect(w.notes).toHaveLength(1));
      // Still in its debounce when the summary is ready: not in the snapshot.
      const late = await w.writeActions(CONVERSATION, SESSION, [slim("still debouncing", t + 1, 1)]);
      expect(late.lastSequence).toBe((first.lastSequence ?? 0) + 1);
      const outcome = await w.postSummary(SESSION, "prose", { sequences: [{ from: 1, to: late.lastSequence ?? 0 }] });
      expect(outcome).toMatchObject({ status: "queued", snapshot: 1 });
      await eventually(() => expect(w.redactedPartIds).toHaveLength(1));
      expect(actionLines(w.notes[1]?.body)).toEqual(["still debouncing"]);
      expect(isSummary(w.notes[2], "prose")).toBe(true);
      expect(w.redactedPartIds).toEqual([w.notes[0]?.partId]);
    });

    it("redacts nothing when the summary post fails (dead-lettered); the next summary redacts only what it covers", async () => {
      const w = ctx.writer();
      w.behaviourFor = (c) => (c.body.endsWith("doomed") ? { kind: "fail", error: new PermanentDeliveryError("rejected", { status: 422 }) } : undefined);
      const failed = collect(w, "summary-failed");
      const { llm, manager, note } = summariesOn(w, 2);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      const thinking = llm.gateNext();
      const covered = [await note("a"), await note("b")];
      thinking.release("doomed");
      await eventually(() => expect(failed).toHaveLength(1));
      expect(failed[0]).toMatchObject({ sessionId: SESSION, reason: "permanent_error", snapshot: 2 });
      const letters = await w.deadLetters();
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ kind: "summary", actions: [] });
      await sleep(100);
      expect(w.redactions).toEqual([]);
      expect(w.stats()).toMatchObject({ summariesFailed: 1, redactions: 0 });

      const again = llm.gateNext();
      const more = [await note("c"), await note("d")];
      again.release("second try");
      await eventually(() => expect(w.redactedPartIds).toHaveLength(2));
      // a and b were condensed by the summary that never arrived: they stay.
      expect(w.redactedPartIds).toEqual(more.map((c) => c.partId));
      expect(w.redactedPartIds).not.toContain(covered[0]?.partId);

      // Re-driven, the dead summary is posted again, still redacting nothing.
      w.behaviourFor = undefined;
      expect(await w.redriveDeadLetters([letters[0]?.id ?? ""])).toMatchObject({ requeued: 1 });
      await eventually(() => expect(w.notes.filter((n) => isSummary(n, "doomed"))).toHaveLength(1));
      await sleep(100);
      expect(w.redactedPartIds).toEqual(more.map((c) => c.partId));
    });

    it("retries a failing redaction until it is done, and stops at a permanent error; the summary stays", async () => {
      const w = ctx.writer();
      const { llm, manager, note } = summariesOn(w, 3);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      const thinking = llm.gateNext();
      const covered = [await note("a"), await note("b"), await note("c")];
      w.failRedactionsNext(2).failRedactionsNext(1, new PermanentDeliveryError("simulated 403", { status: 403 }));
      const failed = collect(w, "redaction-failed");
      thinking.release("summary");
      await eventually(() => expect(w.redactedPartIds).toHaveLength(2));
      await eventually(() => expect(failed).toHaveLength(1));
      const attempts = w.redactions.map((r) => [r.partId, r.outcome]);
      const [a, b, c] = covered.map((n) => n.partId);
      // a fails twice (retried), then once more permanently (given up); b and c are redacted.
      expect(attempts).toEqual([[a, "failed"], [a, "failed"], [a, "failed"], [b, "redacted"], [c, "redacted"]]);
      expect(failed[0]).toMatchObject({ partId: a, reason: "permanent_error" });
      expect(w.stats()).toMatchObject({ redactions: 2, redactionRetries: 2, redactionsFailed: 1, summariesPosted: 1 });
      expect(isSummary(w.notes[3], "summary")).toBe(true);
      expect(w.redactedPartIds).not.toContain(w.notes[3]?.partId);
    });

    it("keeps the history when the LLM fails and succeeds at the next trigger", async () => {
      const w = ctx.writer();
      const { llm, manager, note, contextWriter } = summariesOn(w, 2);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      llm.failNext(1);
      const covered = [await note("a"), await note("b")];
      await eventually(() => expect(contextWriter.stats().summarizer?.llmFailures).toBe(1));
      expect(contextWriter.summarizer?.pending(SESSION)).toBe(2);
      const retry = llm.gateNext();
      covered.push(await note("c"));
      const prompt = await retry.started;
      for (const d of ["a", "b", "c"]) expect(prompt).toContain(`click: ${d} `);
      retry.release("all three");
      await eventually(() => expect(w.redactedPartIds).toHaveLength(3));
      expect(isSummary(w.notes[3], "all three")).toBe(true);
      expect(w.redactedPartIds).toEqual(covered.map((c) => c.partId));
      expect(contextWriter.summarizer?.pending(SESSION)).toBe(0);
    });

    it("runs a connector summary through the same step: its `replaces` latest actions are covered", async () => {
      const w = ctx.writer();
      const { manager, note } = summariesOn(w, 1_000);
      await manager.onChatbotEvent(SESSION, CONVERSATION);
      const [old, ...latest] = [await note("a"), await note("b"), await note("c")];
      const outcome = await manager.onSummary({ type: "summary", product_id: "p", session_id: SESSION, summary: "b then c", replaces: 2, forwarded_at: 0 });
      expect(outcome).toMatchObject({ status: "queued", snapshot: 2, conversationId: CONVERSATION });
      await eventually(() => expect(w.redactedPartIds).toHaveLength(2));
      expect(isSummary(w.notes[3], "b then c")).toBe(true);
      expect(w.redactedPartIds).toEqual(latest.map((n) => n.partId));
      expect(w.redactedPartIds).not.toContain(old?.partId);
    });

    if (ctx.traits.shared) {
      it("shares records, snapshots and pending redactions between instances: a redaction left by one is finished by another", async () => {
        const a = ctx.writer({ retry: { baseDelayMs: 400, jitter: 0 } });
        await a.onSessionLinked(SESSION, CONVERSATION);
        const t = recentSeconds();
        for (const [i, d] of ["x", "y"].entries()) {
          await a.writeActions(CONVERSATION, SESSION, [slim(d, t + i, i)]);
          await eventually(() => expect(a.notes).toHaveLength(i + 1));
        }
        a.failRedactionsNext(1);
        const retrying = collect(a, "redaction-retrying");
        // Another instance queues the summary: it sees the notes the first one recorded.
        const b = ctx.writer();
        expect(await b.postSummary(SESSION, "x then y", { latestActions: 2 })).toMatchObject({ status: "queued", snapshot: 2 });
        await eventually(() => expect(retrying.length + b.redactions.length).toBeGreaterThan(0));
        await a.close();
        // A fresh instance (a restart) finishes what is left.
        const c = ctx.writer();
        await eventually(() => expect([...a.redactedPartIds, ...b.redactedPartIds, ...c.redactedPartIds].sort()).toEqual(a.notes.slice(0, 2).map((n) => n.partId).sort()));
        const summaries = [...a.notes, ...b.notes].filter((n) => isSummary(n, "x then y"));
        expect(summaries).toHaveLength(1);
      });
    }

    it("posts nothing for a session without a conversation", async () => {
      const w = ctx.writer();
      await w.writeActions(null, SESSION, [slim("a", recentSeconds())]);
      expect(await w.postSummary(SESSION, "prose", { latestActions: 1 })).toMatchObject({ status: "unlinked", snapshot: 0 });
      await sleep(100);
      expect(w.calls).toEqual([]);
      expect(w.stats().summariesSkipped).toBe(1);
    });
  });
}
