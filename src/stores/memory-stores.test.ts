import { afterEach, describe, expect, it, vi } from "vitest";
import { ConversationEventType } from "../session/conversation-event.js";
import { SessionState } from "../session/session-state.js";
import { InMemoryConversationLinkStore } from "./memory-conversation-link-store.js";
import { InMemorySessionStateStore } from "./memory-session-state-store.js";
import { describeConversationLinkStore } from "./test-support/conversation-link-store-conformance.js";
import { describeSessionStateStore } from "./test-support/session-state-store-conformance.js";

describeSessionStateStore("InMemorySessionStateStore", async () => {
  const store = new InMemorySessionStateStore();
  return { store, cleanup: () => store.close() };
});

describeConversationLinkStore("InMemoryConversationLinkStore", async () => {
  const store = new InMemoryConversationLinkStore();
  return { store, cleanup: () => store.close() };
});

/** A hand-driven wall clock, epoch ms. */
function manualClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("InMemorySessionStateStore", () => {
  it("rejects bad options with a TypeError naming the option", () => {
    expect(() => new InMemorySessionStateStore({ ttlMs: 0 })).toThrow(/ttlMs must be .*> 0, got number 0/);
    expect(() => new InMemorySessionStateStore({ ttlMs: Number.NaN })).toThrow(TypeError);
    expect(() => new InMemorySessionStateStore({ sessionDefaults: { cooldownMs: -1 } })).toThrow(/sessionDefaults\.cooldownMs/);
  });

  it("starts no timer at construction", () => {
    vi.useFakeTimers();
    new InMemorySessionStateStore();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("hides a session once its TTL has passed", async () => {
    const clock = manualClock();
    const store = new InMemorySessionStateStore({ ttlMs: 1_000, now: clock.now });
    await store.save(new SessionState({ sessionId: "s-1", now: clock.now }));
    clock.t += 999;
    expect(await store.get("s-1")).not.toBeNull();
    clock.t += 1;
    expect(await store.get("s-1")).toBeNull();
    expect(store.size).toBe(0);
    await store.close();
  });

  it("refreshes the TTL on every save", async () => {
    const clock = manualClock();
    const store = new InMemorySessionStateStore({ ttlMs: 1_000, now: clock.now });
    const state = new SessionState({ sessionId: "s-1", now: clock.now });
    await store.save(state);
    clock.t += 800;
    await store.save(state);
    clock.t += 800;
    expect(await store.get("s-1")).not.toBeNull();
    clock.t += 200;
    expect(await store.get("s-1")).toBeNull();
    await store.close();
  });

  it("gives loaded and created states its clock and session defaults", async () => {
    const clock = manualClock();
    const store = new InMemorySessionStateStore({ now: clock.now, sessionDefaults: { interactionTimeoutMs: 5, cooldownMs: 7 } });
    const state = await store.getOrCreate("s-1");
    state.transitionToReactive();
    await store.save(state);
    clock.t += 6;
    const loaded = (await store.get("s-1"))!;
    expect(loaded.tick()).toBe(true);
    expect(loaded.cooldownRemainingMs()).toBe(7);
    await store.close();
  });

  it("frees 100,000 expired sessions with pruneExpired", async () => {
    const clock = manualClock();
    const store = new InMemorySessionStateStore({ ttlMs: 10_000, now: clock.now });
    for (let i = 0; i < 100_000; i += 1) await store.save(new SessionState({ sessionId: `s-${i}`, now: clock.now }));
    expect(store.size).toBe(100_000);
    clock.t += 10_000;
    expect(store.pruneExpired()).toBe(100_000);
    expect(store.size).toBe(0);
    await store.close();
  });

  it("frees 100,000 expired sessions with the periodic sweep, then stops the timer", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const store = new InMemorySessionStateStore({ ttlMs: 120_000 });
    for (let i = 0; i < 100_000; i += 1) await store.save(new SessionState({ sessionId: `s-${i}` }));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.size).toBe(100_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sweeps at most every minute, sooner for a short TTL", async () => {
    const spy = vi.spyOn(globalThis, "setInterval");
    const short = new InMemorySessionStateStore({ ttlMs: 5_000 });
    const long = new InMemorySessionStateStore();
    await short.save(new SessionState({ sessionId: "s-1" }));
    await long.save(new SessionState({ sessionId: "s-1" }));
    expect(spy.mock.calls.map((call) => call[1])).toEqual([5_000, 60_000]);
    await short.close();
    await long.close();
  });

  it("unrefs its sweep timer, stops it when emptied or closed, and rejects calls after close", async () => {
    const spy = vi.spyOn(globalThis, "setInterval");
    const clear = vi.spyOn(globalThis, "clearInterval");
    const store = new InMemorySessionStateStore();
    await store.save(new SessionState({ sessionId: "s-1" }));
    await store.save(new SessionState({ sessionId: "s-2" }));
    expect(spy).toHaveBeenCalledTimes(1);
    const timer = spy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    await store.delete("s-1");
    await store.delete("s-2");
    expect(clear).toHaveBeenCalledWith(timer);
    await store.save(new SessionState({ sessionId: "s-3" }));
    const second = spy.mock.results[1]!.value as NodeJS.Timeout;
    await store.close();
    expect(clear).toHaveBeenCalledWith(second);
    await expect(store.get("s-3")).rejects.toThrow(/closed/);
  });
});

describe("InMemorySessionStateStore: bounded memory (#7 k)", () => {
  it("expires a session saved while unlinked after unlinkedTtlMs, a linked one after ttlMs, and counts expiries", async () => {
    const clock = manualClock();
    const store = new InMemorySessionStateStore({ ttlMs: 10_000, unlinkedTtlMs: 1_000, now: clock.now });
    await store.save(new SessionState({ sessionId: "never-linked", now: clock.now }));
    const linked = new SessionState({ sessionId: "linked", now: clock.now });
    linked.onConversationLinked("c-1", ConversationEventType.NEW);
    await store.save(linked);
    clock.t += 1_000;
    expect(await store.get("never-linked")).toBeNull();
    expect(await store.get("linked")).not.toBeNull();
    const gone = (await store.get("linked"))!;
    gone.unlinkConversation("c-1");
    await store.save(gone);
    clock.t += 1_000;
    expect(store.pruneExpired()).toBe(1);
    expect(store.stats()).toEqual({ sessions: 0, evicted: 0, expired: 2 });
    await store.close();
  });

  it("caps the count: beyond maxSessions the least recently read or saved session is evicted and counted", async () => {
    const store = new InMemorySessionStateStore({ maxSessions: 3 });
    for (const id of ["a", "b", "c"]) await store.save(new SessionState({ sessionId: id }));
    await store.get("a");
    await store.save(new SessionState({ sessionId: "d" }));
    expect(await store.get("b")).toBeNull();
    expect((await Promise.all(["a", "c", "d"].map((id) => store.get(id)))).every((s) => s !== null)).toBe(true);
    expect(store.stats()).toEqual({ sessions: 3, evicted: 1, expired: 0 });
    const stale = (await store.get("c"))!;
    for (const id of ["e", "f", "g"]) await store.save(new SessionState({ sessionId: id }));
    await expect(store.save(stale)).rejects.toThrow(/concurrent update/);
    expect(store.size).toBe(3);
    await store.close();
  });

  it("holds at most maxSessions under a stream of new sessions", async () => {
    const store = new InMemorySessionStateStore({ maxSessions: 1_000 });
    for (let i = 0; i < 20_000; i += 1) await store.save(new SessionState({ sessionId: `s-${i}` }));
    expect(store.stats()).toEqual({ sessions: 1_000, evicted: 19_000, expired: 0 });
    await store.close();
  });

  it("rejects a bad cap or unlinked TTL", () => {
    expect(() => new InMemorySessionStateStore({ maxSessions: 0 })).toThrow(/maxSessions must be a whole number > 0, got number 0/);
    expect(() => new InMemorySessionStateStore({ maxSessions: 1.5 })).toThrow(/maxSessions/);
    expect(() => new InMemorySessionStateStore({ unlinkedTtlMs: 0 })).toThrow(/unlinkedTtlMs/);
  });
});

describe("InMemoryConversationLinkStore", () => {
  it("starts no timer at construction and rejects a bad ttl", () => {
    vi.useFakeTimers();
    new InMemoryConversationLinkStore();
    expect(vi.getTimerCount()).toBe(0);
    expect(() => new InMemoryConversationLinkStore({ ttlMs: -5 })).toThrow(/ttlMs/);
  });

  it("expires links, and a claim by the owner refreshes the TTL", async () => {
    const clock = manualClock();
    const store = new InMemoryConversationLinkStore({ ttlMs: 1_000, now: clock.now });
    await store.claim("c-1", "s-1");
    clock.t += 900;
    await store.claim("c-1", "s-1");
    clock.t += 900;
    expect(await store.get("c-1")).toBe("s-1");
    clock.t += 100;
    expect(await store.get("c-1")).toBeNull();
    expect(await store.claim("c-1", "s-2")).toEqual({ created: true, owner: "s-2" });
    await store.close();
  });

  it("a claim by another session does not refresh the owner's TTL", async () => {
    const clock = manualClock();
    const store = new InMemoryConversationLinkStore({ ttlMs: 1_000, now: clock.now });
    await store.claim("c-1", "s-1");
    clock.t += 900;
    await store.claim("c-1", "s-2");
    clock.t += 100;
    expect(await store.get("c-1")).toBeNull();
    await store.close();
  });

  it("frees expired links with pruneExpired and the sweep", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const store = new InMemoryConversationLinkStore({ ttlMs: 30_000 });
    for (let i = 0; i < 1_000; i += 1) await store.claim(`c-${i}`, `s-${i}`);
    vi.setSystemTime(Date.now() + 30_000);
    expect(store.pruneExpired()).toBe(1_000);
    await store.claim("c-x", "s-x");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await store.close();
    await expect(store.claim("c-y", "s-y")).rejects.toThrow(/closed/);
  });
});
