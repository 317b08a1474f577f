import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentState } from "../../session/agent-state.js";
import { ConversationEventType } from "../../session/conversation-event.js";
import { SessionState } from "../../session/session-state.js";
import type { SessionStateStore } from "../types.js";

/** What a conformance factory hands back: a fresh, empty store and how to dispose of it. */
export interface SessionStateStoreFixture {
  store: SessionStateStore;
  cleanup(): Promise<void>;
}

let counter = 0;
/** A session id unique within the run, so suites sharing a backend never collide. */
function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/**
 * Registers the behaviour every {@link SessionStateStore} must have. `factory` is called before
 * each test and must return an empty store (e.g. with a unique key prefix).
 */
export function describeSessionStateStore(name: string, factory: () => Promise<SessionStateStoreFixture>): void {
  describe(`SessionStateStore conformance: ${name}`, () => {
    let fixture: SessionStateStoreFixture;
    let store: SessionStateStore;
    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("get of a missing session is null", async () => {
      expect(await store.get(uniqueId("missing"))).toBeNull();
    });

    it("getOrCreate returns a new THINKING state with that id, without saving it", async () => {
      const id = uniqueId("create");
      const state = await store.getOrCreate(id);
      expect(state).toBeInstanceOf(SessionState);
      expect(state.sessionId).toBe(id);
      expect(state.currentState).toBe(AgentState.THINKING);
      expect(state.conversationLinked).toBe(false);
      expect(await store.get(id)).toBeNull();
    });

    it("getOrCreate returns the stored state when there is one", async () => {
      const state = await store.getOrCreate(uniqueId("existing"));
      state.metadata.user_id = "u-1";
      await store.save(state);
      const again = await store.getOrCreate(state.sessionId);
      expect(again.metadata).toEqual({ user_id: "u-1" });
    });

    it("save then get round-trips and returns a fresh object", async () => {
      const state = new SessionState({ sessionId: uniqueId("roundtrip"), metadata: { email: "a@b.c" } });
      state.onConversationLinked("conv-1", ConversationEventType.NEW);
      state.transitionToReactive();
      await store.save(state);
      const first = await store.get(state.sessionId);
      const second = await store.get(state.sessionId);
      expect(first?.toJSON()).toEqual(state.toJSON());
      expect(first).not.toBe(state);
      expect(second).not.toBe(first);
      first!.metadata.email = "changed";
      expect(second!.metadata.email).toBe("a@b.c");
    });

    it("mutations without save are not persisted", async () => {
      const state = await store.getOrCreate(uniqueId("unsaved"));
      await store.save(state);
      state.transitionToReactive();
      state.metadata.user_id = "u-2";
      const stored = await store.get(state.sessionId);
      expect(stored?.currentState).toBe(AgentState.THINKING);
      expect(stored?.metadata).toEqual({});
    });

    it("a later save overwrites an earlier one", async () => {
      const state = await store.getOrCreate(uniqueId("overwrite"));
      await store.save(state);
      state.onConversationLinked("conv-2", ConversationEventType.NEW);
      await store.save(state);
      expect((await store.get(state.sessionId))?.conversationId).toBe("conv-2");
    });

    it("delete forgets a session and tolerates a missing one", async () => {
      const state = await store.getOrCreate(uniqueId("delete"));
      await store.save(state);
      await store.delete(state.sessionId);
      expect(await store.get(state.sessionId)).toBeNull();
      await expect(store.delete(state.sessionId)).resolves.toBeUndefined();
    });

    it("keeps many sessions independent", async () => {
      const states = Array.from({ length: 20 }, (_, i) => new SessionState({ sessionId: uniqueId(`many${i}`), metadata: { i } }));
      await Promise.all(states.map((s) => store.save(s)));
      await store.delete(states[0]!.sessionId);
      const loaded = await Promise.all(states.map((s) => store.get(s.sessionId)));
      expect(loaded[0]).toBeNull();
      loaded.slice(1).forEach((s, i) => expect(s?.metadata).toEqual({ i: i + 1 }));
    });

    it("close, when present, can be called twice", async () => {
      if (store.close === undefined) return;
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
