import { describe, expect, it } from "vitest";
import { ConversationEventType } from "../session/conversation-event.js";
import { SessionState } from "../session/session-state.js";
import { linkConversation } from "./link-conversation.js";
import { InMemoryConversationLinkStore } from "./memory-conversation-link-store.js";

function setup() {
  return { store: new InMemoryConversationLinkStore(), state: new SessionState({ sessionId: "s-1" }) };
}

describe("linkConversation", () => {
  it("infers NEW for a conversation the store does not know, writing the store then the state", async () => {
    const { store, state } = setup();
    const result = await linkConversation(state, "c-1", store);
    expect(result).toEqual({ ok: true, event: ConversationEventType.NEW, changed: true });
    expect(await store.get("c-1")).toBe("s-1");
    expect(state.conversationLinked).toBe(true);
    expect(state.conversationId).toBe("c-1");
  });

  it("infers REPLY_EXISTING when the store already maps the conversation to this session", async () => {
    const { store, state } = setup();
    await store.claim("c-1", "s-1");
    const result = await linkConversation(state, "c-1", store);
    expect(result).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: true });
    expect(state.conversationId).toBe("c-1");
  });

  it("is idempotent: linking the same conversation again changes nothing", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-1", store);
    const again = await linkConversation(state, "c-1", store);
    expect(again).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: false });
  });

  it("a REPLY_EXISTING never moves a session already linked elsewhere", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-old", store);
    await linkConversation(state, "c-1", store);
    const result = await linkConversation(state, "c-old", store);
    expect(result).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: false });
    expect(state.conversationId).toBe("c-1");
  });

  it("a NEW conversation replaces the session's earlier one", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-1", store);
    const result = await linkConversation(state, "c-2", store);
    expect(result).toEqual({ ok: true, event: ConversationEventType.NEW, changed: true });
    expect(state.conversationId).toBe("c-2");
    expect(await store.get("c-1")).toBe("s-1");
  });

  it("a claim left by a try whose save failed is still NEW for a session linked elsewhere (#7 b)", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-old", store);
    await store.claim("c-new", "s-1"); // an earlier try claimed it; its state save never landed
    const result = await linkConversation(state, "c-new", store);
    expect(result).toEqual({ ok: true, event: ConversationEventType.NEW, changed: true });
    expect(state.conversationId).toBe("c-new");
    const reply = await linkConversation(state, "c-old", store);
    expect(reply).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: false });
  });

  it("a state revived from a snapshot without earlier conversations keeps inferring REPLY_EXISTING", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-old", store);
    await store.claim("c-other", "s-1");
    const { previous_conversation_ids: _dropped, ...legacy } = state.toJSON();
    const revived = SessionState.fromJSON(legacy);
    expect(await linkConversation(revived, "c-other", store)).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: false });
  });

  it("a conversation owned by another session is a conflict that changes nothing", async () => {
    const { store, state } = setup();
    await linkConversation(state, "c-mine", store);
    await store.claim("c-1", "s-other");
    const before = state.toJSON();
    const result = await linkConversation(state, "c-1", store);
    expect(result).toEqual({ ok: false, reason: "conflict", owner: "s-other" });
    expect(state.toJSON()).toEqual(before);
    expect(await store.get("c-1")).toBe("s-other");
    expect(store.size).toBe(2);
  });

  it("a forced event type wins over inference", async () => {
    const { store, state } = setup();
    const forcedReply = await linkConversation(state, "c-1", store, ConversationEventType.REPLY_EXISTING);
    expect(forcedReply).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: true });
    await store.claim("c-2", "s-1");
    const forcedNew = await linkConversation(state, "c-2", store, ConversationEventType.NEW);
    expect(forcedNew).toEqual({ ok: true, event: ConversationEventType.NEW, changed: true });
    expect(state.conversationId).toBe("c-2");
  });

  it("a forced event type does not bypass a conflict", async () => {
    const { store, state } = setup();
    await store.claim("c-1", "s-other");
    const result = await linkConversation(state, "c-1", store, ConversationEventType.NEW);
    expect(result).toEqual({ ok: false, reason: "conflict", owner: "s-other" });
    expect(state.conversationLinked).toBe(false);
  });

  it("rejects an empty conversation id or unknown event before touching the store", async () => {
    const { store, state } = setup();
    await expect(linkConversation(state, "", store)).rejects.toThrow(/conversationId must be a non-empty string/);
    await expect(linkConversation(state, "c-1", store, "bogus" as ConversationEventType)).rejects.toThrow(TypeError);
    expect(store.size).toBe(0);
  });

  it("leaves the state unlinked when the store fails", async () => {
    const state = new SessionState({ sessionId: "s-1" });
    const failing = {
      get: () => Promise.resolve(null),
      claim: () => Promise.reject(new Error("store down")),
      delete: () => Promise.resolve(),
      release: () => Promise.resolve(false),
    };
    await expect(linkConversation(state, "c-1", failing)).rejects.toThrow("store down");
    expect(state.conversationLinked).toBe(false);
  });

  it("does not claim a conversation for a forced REPLY_EXISTING on a linked session", async () => {
    const store = new InMemoryConversationLinkStore();
    const state = new SessionState({ sessionId: "s1" });
    await linkConversation(state, "c1", store);
    const reply = await linkConversation(state, "c2", store, ConversationEventType.REPLY_EXISTING);
    expect(reply).toEqual({ ok: true, event: ConversationEventType.REPLY_EXISTING, changed: false });
    expect(await store.get("c2")).toBeNull();
    const other = new SessionState({ sessionId: "s2" });
    expect(await linkConversation(other, "c2", store)).toMatchObject({ ok: true, event: ConversationEventType.NEW });
  });
});
