import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConcurrentUpdateError, ConversationGoneError, PayloadError } from "../errors.js";
import type { SlimAction } from "../payloads/types.js";
import { ConversationEventType } from "../session/conversation-event.js";
import type { SessionState } from "../session/session-state.js";
import { InMemoryConversationLinkStore } from "../stores/memory-conversation-link-store.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";
import { UnlinkingWriter } from "./test-support/unlinking-writer.js";

const T0 = 1_718_000_000;
let writer: UnlinkingWriter;
let manager: AutoplayChatbotManager;

function payload(sessionId: string, actions: SlimAction[]) {
  return { type: "actions", product_id: "p", session_id: sessionId, actions, count: actions.length, forwarded_at: T0 };
}

/** A session store whose next save of a state linked to `conversationId` first meets a rival save, or fails. */
class InterferingStore extends InMemorySessionStateStore {
  race: string | null = null;
  failOn: string | null = null;
  override async save(state: SessionState): Promise<void> {
    if (state.conversationId !== null && state.conversationId === this.race) {
      this.race = null;
      const rival = (await super.get(state.sessionId))!;
      rival.metadata.rival = true; // another instance saves the session first
      await super.save(rival);
    }
    if (state.conversationId !== null && state.conversationId === this.failOn) {
      this.failOn = null;
      throw new Error("store down");
    }
    return super.save(state);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 * 1000);
  writer = new UnlinkingWriter({ productId: "test", logger: {} });
  manager = new AutoplayChatbotManager({ writer });
});

afterEach(async () => {
  const closing = manager.close();
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
});

describe("onChatbotEvent: a NEW link survives a retry (#7 b)", () => {
  it("a save that loses a compare-and-set race is re-applied with the event decided first (NEW)", async () => {
    const sessionStore = new InterferingStore();
    const m = new AutoplayChatbotManager({ writer, sessionStore, linkStore: new InMemoryConversationLinkStore() });
    await m.onChatbotEvent("s", "c-old");
    sessionStore.race = "c-new";
    const outcome = await m.onChatbotEvent("s", "c-new");
    expect(outcome).toEqual({ status: "linked", event: ConversationEventType.NEW, conversationId: "c-new", changed: true });
    const stored = (await m.getState("s"))!;
    expect([stored.conversationId, stored.metadata.rival]).toEqual(["c-new", true]);
    expect(await m.linkStore.get("c-new")).toBe("s");
    expect(await writer.linkedConversation("s")).toBe("c-new");
  });

  it("a webhook re-sent after a failed save converges: the session moves to the new conversation", async () => {
    const sessionStore = new InterferingStore();
    const m = new AutoplayChatbotManager({ writer, sessionStore, linkStore: new InMemoryConversationLinkStore() });
    await m.onChatbotEvent("s", "c-old");
    sessionStore.failOn = "c-new";
    await expect(m.onChatbotEvent("s", "c-new")).rejects.toThrow(/store down/);
    expect((await m.getState("s"))?.conversationId).toBe("c-old");
    expect(await m.linkStore.get("c-new")).toBe("s"); // the claim landed, the state did not
    const resent = await m.onChatbotEvent("s", "c-new");
    expect(resent).toEqual({ status: "linked", event: ConversationEventType.NEW, conversationId: "c-new", changed: true });
    expect((await m.getState("s"))?.conversationId).toBe("c-new");
    await m.onActions(payload("s", [slim("after the move", T0)]));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writer.notesIn("c-new").map((n) => n.body.split("\n\n")[1])).toEqual(["[1] after the move"]);
    // A reply in the conversation it left still does not move it back.
    expect(await m.onChatbotEvent("s", "c-old")).toMatchObject({ event: ConversationEventType.REPLY_EXISTING, conversationId: "c-new", changed: false });
  });

  it("validates conversation ids where they enter, claiming nothing (#8 item 2)", async () => {
    for (const bad of ["", ".", "..", "a/b", "a\\b", "c?x", "c#x", "c%2e", "c\nx", "x".repeat(300)]) {
      await expect(manager.onChatbotEvent("s", bad)).rejects.toBeInstanceOf(PayloadError);
    }
    await expect(manager.onChatbotEvent("s", 42 as unknown as string)).rejects.toBeInstanceOf(PayloadError);
    expect(await manager.getState("s")).toBeNull();
    expect((manager.linkStore as InMemoryConversationLinkStore).size).toBe(0);
  });
});

describe("stale saves through the manager (#7 e)", () => {
  it("a state read before the link cannot un-link the session when saved", async () => {
    await manager.onActions(payload("s", [slim("a", T0)]));
    const stale = (await manager.getState("s"))!;
    await manager.onChatbotEvent("s", "c");
    stale.transitionToReactive();
    await expect(manager.saveState(stale)).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect((await manager.getState("s"))?.conversationId).toBe("c");
    const fresh = (await manager.getState("s"))!;
    fresh.transitionToReactive();
    await manager.saveState(fresh.clone());
    expect((await manager.getState("s"))?.conversationId).toBe("c");
  });
});

describe("a conversation gone: the writer's `unlinked` event (#7 f)", () => {
  it("unlinks the state, releases the link, routes later payloads as pre-link, and a new webhook links again (NEW)", async () => {
    await manager.onChatbotEvent("s", "c-1");
    writer.emitUnlinked("s", "c-1", 2);
    const outcome = await manager.onActions(payload("s", [slim("while unlinked", T0 + 1)]));
    expect(outcome.conversationId).toBeNull();
    expect(writer.routed.at(-1)).toEqual({ sessionId: "s", conversationId: null });
    const state = (await manager.getState("s"))!;
    expect([state.conversationLinked, state.conversationId]).toEqual([false, null]);
    expect(await manager.linkStore.get("c-1")).toBeNull();
    expect(manager.stats()).toMatchObject({ unlinksApplied: 1, unlinksFailed: 0, unlinksPending: 0 });

    const relinked = await manager.onChatbotEvent("s", "c-2");
    expect(relinked).toEqual({ status: "linked", event: ConversationEventType.NEW, conversationId: "c-2", changed: true });
    expect(await writer.linkedConversation("s")).toBe("c-2");
    expect((await manager.onActions(payload("s", [slim("linked again", T0 + 2)]))).conversationId).toBe("c-2");
  });

  it("end to end with the engine: a 404 unlinks state, link store and writer; later actions wait for the next link", async () => {
    await manager.onChatbotEvent("s", "c-1");
    writer.failNext(1, new ConversationGoneError("simulated 404: conversation not found", { status: 404 }));
    await manager.onActions(payload("s", [slim("lost in c-1", T0)]));
    await vi.advanceTimersByTimeAsync(2_000);
    await vi.waitFor(() => expect(manager.stats().unlinksApplied).toBe(1));
    expect(await manager.linkStore.get("c-1")).toBeNull();
    expect((await manager.getState("s"))?.conversationLinked).toBe(false);
    expect(await manager.onActions(payload("s", [slim("waits for a link", T0 + 3)]))).toMatchObject({ conversationId: null, newActions: 1 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(writer.calls.filter((c) => c.conversationId === "c-1")).toHaveLength(1);
    expect(await manager.onChatbotEvent("s", "c-2")).toMatchObject({ event: ConversationEventType.NEW, conversationId: "c-2" });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(writer.notesIn("c-2").map((n) => n.body)).toEqual([expect.stringContaining("waits for a link")]);
  });

  it("leaves a session already linked elsewhere alone, and never releases another session's link", async () => {
    await manager.onChatbotEvent("s", "c-1");
    await manager.onChatbotEvent("s", "c-2");
    await manager.onChatbotEvent("other", "c-3");
    writer.emitUnlinked("s", "c-1");
    writer.emitUnlinked("s", "c-3");
    await manager.onActions(payload("s", [slim("x", T0)]));
    expect((await manager.getState("s"))?.conversationId).toBe("c-2");
    expect([await manager.linkStore.get("c-1"), await manager.linkStore.get("c-2"), await manager.linkStore.get("c-3")]).toEqual([null, "s", "other"]);
    expect((await manager.getState("other"))?.conversationId).toBe("c-3");
  });

  it("runs inside the session's serializer, after the operations queued before it", async () => {
    const link = manager.onChatbotEvent("s", "c-1");
    writer.emitUnlinked("s", "c-1"); // queued behind the link, not racing it
    await link;
    await manager.onActions(payload("s", [slim("x", T0)]));
    expect((await manager.getState("s"))?.conversationLinked).toBe(false);
  });

  it("retries a lost compare-and-set race on fresh state, keeping the rival's changes", async () => {
    const sessionStore = new InterferingStore();
    const m = new AutoplayChatbotManager({ writer, sessionStore, linkStore: new InMemoryConversationLinkStore() });
    await m.onChatbotEvent("s", "c-1");
    const rival = (await sessionStore.get("s"))!;
    writer.emitUnlinked("s", "c-1");
    rival.metadata.rival = true;
    await sessionStore.save(rival); // lands before the unlink's save (which awaits its own read first)
    await m.onActions(payload("s", [slim("x", T0)]));
    const state = (await m.getState("s"))!;
    expect([state.conversationLinked, state.metadata.rival]).toEqual([false, true]);
    await m.close();
  });

  it("keeps an unlink that failed on a store error and applies it before the session's next call", async () => {
    class DownOnce extends InMemorySessionStateStore {
      down = false;
      override async save(state: SessionState): Promise<void> {
        if (this.down) {
          this.down = false;
          throw new Error("store down");
        }
        return super.save(state);
      }
    }
    const sessionStore = new DownOnce();
    const m = new AutoplayChatbotManager({ writer, sessionStore, linkStore: new InMemoryConversationLinkStore() });
    await m.onChatbotEvent("s", "c-1");
    sessionStore.down = true;
    writer.emitUnlinked("s", "c-1");
    await vi.waitFor(() => expect(m.stats().unlinksPending).toBe(1));
    expect((await m.getState("s"))?.conversationId).toBe("c-1");
    const outcome = await m.onActions(payload("s", [slim("x", T0)]));
    expect(outcome.conversationId).toBeNull();
    expect(await m.linkStore.get("c-1")).toBeNull();
    expect(m.stats()).toMatchObject({ unlinksApplied: 1, unlinksFailed: 1, unlinksPending: 0 });
    await m.close();
  });

  it("close() lets reported unlinks settle and unsubscribes", async () => {
    const sessionStore = new InMemorySessionStateStore();
    const m = new AutoplayChatbotManager({ writer, sessionStore });
    await m.onChatbotEvent("s", "c-1");
    writer.emitUnlinked("s", "c-1");
    const closing = m.close();
    await vi.advanceTimersByTimeAsync(10_000);
    await closing;
    expect((await sessionStore.get("s"))?.conversationLinked).toBe(false);
    expect(writer.unlinkedListenerCount).toBe(1); // only the shared `manager`'s listener is left
  });
});
