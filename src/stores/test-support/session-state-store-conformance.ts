import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConcurrentUpdateError } from "../../errors.js";
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
 * Registers the behaviour every {@link SessionStateStore} must have, compare-and-set saves
 * included. `factory` is called before each test and must return an empty store (e.g. with a
 * unique key prefix).
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

    it("a state loaded with get, changed and saved, is persisted, again and again", async () => {
      const id = uniqueId("reload");
      await store.save(await store.getOrCreate(id));
      for (let i = 1; i <= 3; i += 1) {
        const loaded = (await store.get(id))!;
        loaded.metadata.count = i;
        await store.save(loaded);
        await store.save(loaded);
      }
      expect((await store.get(id))?.metadata).toEqual({ count: 3 });
    });

    it("saving one object twice without waiting persists the later snapshot", async () => {
      const state = await store.getOrCreate(uniqueId("twice"));
      state.metadata.n = 1;
      const first = store.save(state);
      state.metadata.n = 2;
      await Promise.all([first, store.save(state)]);
      expect((await store.get(state.sessionId))?.metadata).toEqual({ n: 2 });
    });

    it("rejects an empty session id and a non-state", async () => {
      await expect(store.get("")).rejects.toThrow(TypeError);
      await expect(store.delete("")).rejects.toThrow(TypeError);
      await expect(store.save({ sessionId: "x" } as unknown as SessionState)).rejects.toThrow(TypeError);
    });

    it("compare-and-set: of two objects loaded at the same revision, the second save conflicts and writes nothing", async () => {
      const id = uniqueId("cas");
      await store.save(await store.getOrCreate(id));
      const [a, b] = [(await store.get(id))!, (await store.get(id))!];
      a.metadata.by = "a";
      b.metadata.by = "b";
      await store.save(a);
      const error: unknown = await store.save(b).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrentUpdateError);
      expect((error as ConcurrentUpdateError).code).toBe("CONCURRENT_UPDATE");
      expect((await store.get(id))?.metadata).toEqual({ by: "a" });
      const reloaded = (await store.get(id))!;
      reloaded.metadata.also = "b";
      await store.save(reloaded);
      expect((await store.get(id))?.metadata).toEqual({ by: "a", also: "b" });
    });

    it("compare-and-set: a state the store did not load cannot overwrite a stored session", async () => {
      const id = uniqueId("fresh");
      await store.save(new SessionState({ sessionId: id, metadata: { first: true } }));
      await expect(store.save(new SessionState({ sessionId: id }))).rejects.toBeInstanceOf(ConcurrentUpdateError);
      const created = await store.getOrCreate(uniqueId("fresh"));
      const rival = new SessionState({ sessionId: created.sessionId });
      await store.save(rival);
      await expect(store.save(created)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      expect((await store.get(id))?.metadata).toEqual({ first: true });
    });

    it("compare-and-set: a session deleted after loading cannot be saved by the stale object", async () => {
      const id = uniqueId("deleted");
      await store.save(await store.getOrCreate(id));
      const loaded = (await store.get(id))!;
      await store.delete(id);
      await expect(store.save(loaded)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      expect(await store.get(id)).toBeNull();
    });

    it("compare-and-set: a clone of a read state saves like the state itself; the stale original then conflicts", async () => {
      const id = uniqueId("clone");
      await store.save(await store.getOrCreate(id));
      const original = (await store.get(id))!;
      const copy = original.clone();
      copy.metadata.by = "clone";
      await store.save(copy);
      await store.save(copy);
      expect((await store.get(id))?.metadata).toEqual({ by: "clone" });
      original.metadata.by = "original";
      await expect(store.save(original)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      const fresh = new SessionState({ sessionId: uniqueId("clone-new") });
      await store.save(fresh.clone());
      await expect(store.save(fresh)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      expect((await store.get(id))?.metadata).toEqual({ by: "clone" });
    });

    it("compare-and-set: a link saved by one reader is never undone by a stale save of another", async () => {
      const id = uniqueId("stale-link");
      await store.save(await store.getOrCreate(id));
      const linker = (await store.get(id))!;
      const stale = (await store.get(id))!;
      linker.onConversationLinked("conv-1", ConversationEventType.NEW);
      await store.save(linker);
      stale.metadata.user_id = "u-1";
      await expect(store.save(stale)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      expect((await store.get(id))?.conversationId).toBe("conv-1");
    });

    it("close, when present, can be called twice", async () => {
      if (store.close === undefined) return;
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
