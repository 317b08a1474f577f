import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PayloadError } from "../errors.js";
import type { SlimAction } from "../payloads/types.js";
import { AgentState } from "../session/agent-state.js";
import { ConversationEventType } from "../session/conversation-event.js";
import { InMemoryConversationLinkStore } from "../stores/memory-conversation-link-store.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";

const T0 = 1_718_000_000;
let writer: RecordingChatbotWriter;
let manager: AutoplayChatbotManager;

function payload(sessionId: string | null, actions: SlimAction[], extra: Record<string, unknown> = {}) {
  return { type: "actions", product_id: "p", session_id: sessionId, actions, count: actions.length, forwarded_at: T0, ...extra };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 * 1000);
  writer = createTestWriter();
  manager = new AutoplayChatbotManager({ writer });
});

afterEach(async () => {
  const closing = manager.close();
  if (vi.isFakeTimers()) await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
});

describe("AutoplayChatbotManager", () => {
  it("runs the quick-start flow: a flush note, then one debounced note, in the linked conversation", async () => {
    await manager.onActions(payload("ph-1", [slim("Opened Billing", T0 + 0.1), slim("Clicked Upgrade", T0 + 0.2)]));
    await manager.onActions(JSON.stringify(payload("ph-1", [slim("Opened Settings", T0 + 4)])));
    expect(writer.calls).toHaveLength(0);

    const linked = await manager.onChatbotEvent("ph-1", "conv-9");
    expect(linked).toEqual({ status: "linked", event: ConversationEventType.NEW, conversationId: "conv-9", changed: true });
    await vi.advanceTimersByTimeAsync(0);

    const outcome = await manager.onActions(payload("ph-1", [slim("Clicked Save", T0 + 10), slim("Clicked Close", T0 + 10.5)]));
    expect(outcome).toEqual({ sessionId: "ph-1", accepted: 2, newActions: 2, duplicates: 0, trimmed: 0, conversationId: "conv-9" });
    await vi.advanceTimersByTimeAsync(1000);

    expect(writer.notes.map((n) => [n.conversationId, n.body])).toEqual([
      ["conv-9", "session_id: ph-1\ntimestamp: 2024-06-10 06:13:20 UTC\n\n[1] Opened Billing\n[2] Clicked Upgrade\n\n[3] Opened Settings"],
      ["conv-9", "session_id: ph-1\ntimestamp: 2024-06-10 06:13:30 UTC\n\n[1] Clicked Save\n[2] Clicked Close"],
    ]);
    const state = await manager.getState("ph-1");
    expect(state?.conversationLinked).toBe(true);
    expect(state?.conversationId).toBe("conv-9");
  });

  it("rejects a payload without a session id with a reason, and mixes it into nothing", async () => {
    await expect(manager.onActions(payload(null, [slim("a", T0)]))).rejects.toThrow(PayloadError);
    await expect(manager.onActions(payload("", [slim("a", T0)]))).rejects.toThrow(/session_id is required/);
    await expect(manager.onActions("{not json")).rejects.toBeInstanceOf(PayloadError);
    expect(writer.stats().sessions).toBe(0);
  });

  it("never moves a linked session on REPLY_EXISTING", async () => {
    await manager.onChatbotEvent("s", "c1");
    await manager.onChatbotEvent("s", "c2"); // a new conversation for the same session: NEW, moves
    const reply = await manager.onChatbotEvent("s", "c1"); // a reply in the old one: inferred REPLY_EXISTING
    expect(reply).toMatchObject({ status: "linked", event: ConversationEventType.REPLY_EXISTING, conversationId: "c2", changed: false });
    const forced = await manager.onChatbotEvent("s", "c3", ConversationEventType.REPLY_EXISTING);
    expect(forced).toMatchObject({ conversationId: "c2", changed: false });
    await manager.onActions(payload("s", [slim("a", T0)]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.notes.map((n) => n.conversationId)).toEqual(["c2"]);
  });

  it("reports a conversation owned by another session as a conflict and changes nothing", async () => {
    await manager.onActions(payload("owner", [slim("mine", T0)]));
    await manager.onChatbotEvent("owner", "c");
    await manager.onActions(payload("intruder", [slim("theirs", T0)]));
    const result = await manager.onChatbotEvent("intruder", "c");
    expect(result).toEqual({ status: "conflict", owner: "owner" });
    expect(await manager.linkStore.get("c")).toBe("owner");
    const intruder = await manager.getState("intruder");
    expect(intruder?.conversationLinked).toBe(false);
    expect(intruder?.conversationId).toBeNull();
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.notes.map((n) => n.body)).toEqual([expect.stringContaining("[1] mine")]);
  });

  it("merges identity into metadata and keeps changes saved through saveState", async () => {
    await manager.onActions(payload("s", [slim("a", T0)], { user_id: "u-1", email: "a@example.com" }));
    await manager.onActions(payload("s", [slim("b", T0)], { user_id: null }));
    const state = await manager.getState("s");
    expect(state?.metadata).toMatchObject({ user_id: "u-1", email: "a@example.com" });
    state!.transitionToReactive();
    await manager.saveState(state!);
    expect((await manager.getState("s"))?.currentState).toBe(AgentState.REACTIVE);
  });

  it("hands nothing to the writer when saving the state fails, so the sender's retry delivers once", async () => {
    class FlakyStore extends InMemorySessionStateStore {
      failures = 1;
      override async save(state: Parameters<InMemorySessionStateStore["save"]>[0]): Promise<void> {
        if (this.failures-- > 0) throw new Error("store down");
        return super.save(state);
      }
    }
    const m2 = new AutoplayChatbotManager({ writer, sessionStore: new FlakyStore() });
    await expect(m2.onActions(payload("t", [slim("once", T0)]))).rejects.toThrow(/store down/);
    await m2.onActions(payload("t", [slim("once", T0)]));
    await vi.advanceTimersByTimeAsync(1000);
    await m2.onChatbotEvent("t", "c2");
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.notesIn("c2").map((n) => n.body.split("\n\n")[1])).toEqual(["[1] once"]);
  });

  it("serializes one session's operations in call order", async () => {
    // Not awaited one by one: the link must still come after the first batch and before the second.
    const ops = [
      manager.onActions(payload("s", [slim("before link", T0)])),
      manager.onChatbotEvent("s", "c"),
      manager.onActions(payload("s", [slim("after link", T0 + 5)])),
    ];
    await Promise.all(ops);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.notes.map((n) => n.body.split("\n\n")[1])).toEqual(["[1] before link", "[1] after link"]);
  });

  it("keeps delivering to the linked conversation after a restart with a persistent store", async () => {
    const sessionStore = new InMemorySessionStateStore();
    const linkStore = new InMemoryConversationLinkStore();
    const first = new AutoplayChatbotManager({ writer: createTestWriter(), sessionStore, linkStore });
    await first.onChatbotEvent("s", "c");
    await first.close();

    const restartedWriter = createTestWriter();
    const second = new AutoplayChatbotManager({ writer: restartedWriter, sessionStore, linkStore });
    await second.onActions(payload("s", [slim("after restart", T0)]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(restartedWriter.notesIn("c")).toHaveLength(1);
    await second.close();
  });

  it("holds no per-session entry in writer or stores once 100,000 sessions went idle past expiry", async () => {
    vi.useRealTimers();
    let clock = T0 * 1000;
    const now = () => clock;
    const sessionStore = new InMemorySessionStateStore({ ttlMs: 60_000, now });
    const linkStore = new InMemoryConversationLinkStore({ ttlMs: 60_000, now });
    const w = createTestWriter({ postLinkDebounceMs: 1, sessionIdleTtlMs: 60_000, now });
    const m = new AutoplayChatbotManager({ writer: w, sessionStore, linkStore });
    for (let i = 0; i < 100_000; i++) {
      if (i % 2 === 0) await m.onChatbotEvent(`s${i}`, `c${i}`);
      await m.onActions(payload(`s${i}`, [slim("x", T0)]));
    }
    await w.onIdle();
    expect([w.stats().sessions, sessionStore.size, linkStore.size]).toEqual([100_000, 100_000, 50_000]);
    clock += 120_001;
    w.pruneIdleSessions();
    sessionStore.pruneExpired();
    linkStore.pruneExpired();
    expect([w.stats().sessions, sessionStore.size, linkStore.size]).toEqual([0, 0, 0]);
    await m.close();
    vi.useFakeTimers();
  }, 60_000);
});
