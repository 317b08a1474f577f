import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConversationLinkStore } from "../types.js";

/** What a conformance factory hands back: a fresh, empty store and how to dispose of it. */
export interface ConversationLinkStoreFixture {
  store: ConversationLinkStore;
  cleanup(): Promise<void>;
}

let counter = 0;
/** An id unique within the run, so suites sharing a backend never collide. */
function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/**
 * Registers the behaviour every {@link ConversationLinkStore} must have. `factory` is called
 * before each test and must return an empty store (e.g. with a unique key prefix).
 */
export function describeConversationLinkStore(name: string, factory: () => Promise<ConversationLinkStoreFixture>): void {
  describe(`ConversationLinkStore conformance: ${name}`, () => {
    let fixture: ConversationLinkStoreFixture;
    let store: ConversationLinkStore;
    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("get of an unknown conversation is null", async () => {
      expect(await store.get(uniqueId("conv"))).toBeNull();
    });

    it("a first claim creates the link", async () => {
      const conv = uniqueId("conv");
      expect(await store.claim(conv, "s-1")).toEqual({ created: true, owner: "s-1" });
      expect(await store.get(conv)).toBe("s-1");
    });

    it("a second claim by the same owner is not created and keeps the owner", async () => {
      const conv = uniqueId("conv");
      await store.claim(conv, "s-1");
      expect(await store.claim(conv, "s-1")).toEqual({ created: false, owner: "s-1" });
      expect(await store.get(conv)).toBe("s-1");
    });

    it("a claim by another session does not take the conversation over", async () => {
      const conv = uniqueId("conv");
      await store.claim(conv, "s-1");
      expect(await store.claim(conv, "s-2")).toEqual({ created: false, owner: "s-1" });
      expect(await store.get(conv)).toBe("s-1");
    });

    it("concurrent claims by two sessions: exactly one wins, the other sees the winner", async () => {
      for (let round = 0; round < 10; round += 1) {
        const conv = uniqueId("race");
        const [a, b] = await Promise.all([store.claim(conv, "s-a"), store.claim(conv, "s-b")]);
        expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
        const winner = a.created ? "s-a" : "s-b";
        expect(a.owner).toBe(winner);
        expect(b.owner).toBe(winner);
        expect(await store.get(conv)).toBe(winner);
      }
    });

    it("delete forgets a link, after which another session may claim it", async () => {
      const conv = uniqueId("conv");
      await store.claim(conv, "s-1");
      await store.delete(conv);
      expect(await store.get(conv)).toBeNull();
      await expect(store.delete(conv)).resolves.toBeUndefined();
      expect(await store.claim(conv, "s-2")).toEqual({ created: true, owner: "s-2" });
    });

    it("release forgets a link only for its owner, and tells whether it did", async () => {
      const conv = uniqueId("release");
      await store.claim(conv, "s-1");
      expect(await store.release(conv, "s-2")).toBe(false);
      expect(await store.get(conv)).toBe("s-1");
      expect(await store.release(conv, "s-1")).toBe(true);
      expect(await store.get(conv)).toBeNull();
      expect(await store.release(conv, "s-1")).toBe(false);
      expect(await store.claim(conv, "s-2")).toEqual({ created: true, owner: "s-2" });
      await expect(store.release("", "s-1")).rejects.toThrow(TypeError);
      await expect(store.release(conv, "")).rejects.toThrow(TypeError);
      expect(await store.get(conv)).toBe("s-2");
    });

    it("keeps conversations independent", async () => {
      const convs = Array.from({ length: 20 }, () => uniqueId("many"));
      await Promise.all(convs.map((c, i) => store.claim(c, `s-${i}`)));
      const owners = await Promise.all(convs.map((c) => store.get(c)));
      expect(owners).toEqual(convs.map((_, i) => `s-${i}`));
    });

    it("one session may own several conversations", async () => {
      const [c1, c2] = [uniqueId("own"), uniqueId("own")];
      expect(await store.claim(c1, "s-1")).toEqual({ created: true, owner: "s-1" });
      expect(await store.claim(c2, "s-1")).toEqual({ created: true, owner: "s-1" });
      expect([await store.get(c1), await store.get(c2)]).toEqual(["s-1", "s-1"]);
    });

    it("rejects empty ids without recording anything", async () => {
      const conv = uniqueId("empty");
      await expect(store.claim("", "s-1")).rejects.toThrow(TypeError);
      await expect(store.claim(conv, "")).rejects.toThrow(TypeError);
      await expect(store.get("")).rejects.toThrow(TypeError);
      await expect(store.delete("")).rejects.toThrow(TypeError);
      expect(await store.get(conv)).toBeNull();
    });

    it("close, when present, can be called twice", async () => {
      if (store.close === undefined) return;
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
