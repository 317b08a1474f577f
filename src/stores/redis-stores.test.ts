import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closedPortUrl, connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../../test/support/redis.js";
import { RedisUnavailableError, type RedisCommands } from "../redis/commands.js";
import type { RedisConnection } from "../redis/connection.js";
import { ConversationEventType } from "../session/conversation-event.js";
import { SessionState } from "../session/session-state.js";
import { linkConversation } from "./link-conversation.js";
import { RedisConversationLinkStore } from "./redis-conversation-link-store.js";
import { RedisSessionStateStore } from "./redis-session-state-store.js";
import { describeConversationLinkStore } from "./test-support/conversation-link-store-conformance.js";
import { describeSessionStateStore } from "./test-support/session-state-store-conformance.js";

let admin: RedisConnection;
const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];

/** A unique prefix removed after the test. */
function prefix(label: string): string {
  const p = uniquePrefix(label);
  prefixes.push(p);
  return p;
}

/** Registers a store to close after the test, and returns it. */
function track<T extends { close(): Promise<void> }>(store: T): T {
  closers.push(() => store.close());
  return store;
}

/** A client that answers every command with null and records it. */
function recordingClient(calls: string[][]): RedisCommands {
  return {
    sendCommand: async (args) => {
      calls.push([...args]);
      return null;
    },
  };
}

async function closeAndClean(store: { close(): Promise<void> }, keyPrefix: string): Promise<void> {
  await store.close();
  await deleteByPrefix(admin, keyPrefix);
}

beforeAll(async () => {
  admin = await connectTestRedis();
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all(prefixes.splice(0).map((p) => deleteByPrefix(admin, p)));
});
afterAll(async () => {
  await admin?.close();
});

describeSessionStateStore("RedisSessionStateStore", async () => {
  const keyPrefix = uniquePrefix("conformance-session");
  const store = new RedisSessionStateStore({ url: redisUrl(), keyPrefix });
  return { store, cleanup: () => closeAndClean(store, keyPrefix) };
});

describeConversationLinkStore("RedisConversationLinkStore", async () => {
  const keyPrefix = uniquePrefix("conformance-link");
  const store = new RedisConversationLinkStore({ url: redisUrl(), keyPrefix });
  return { store, cleanup: () => closeAndClean(store, keyPrefix) };
});

describe("Redis stores: construction", () => {
  it.each([
    [{ ttlSeconds: 0 }, /ttlSeconds must be a whole number of seconds > 0, got number 0/],
    [{ ttlSeconds: 1.5 }, /ttlSeconds/],
    [{ keyPrefix: "" }, /keyPrefix must be a non-empty string/],
    [{ commandTimeoutMs: -1 }, /commandTimeoutMs/],
    [{ url: "http://x" }, /url must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ url: "redis://a", client: { sendCommand: async () => null } }, /at most one of url, client and connection, got url and client/],
    [{ client: {} as RedisCommands }, /client must be an object with a sendCommand/],
    [{ connection: {} as RedisConnection }, /connection must be a RedisConnection/],
  ])("rejects %o with a TypeError naming the option", (options, message) => {
    expect(() => new RedisSessionStateStore(options)).toThrow(TypeError);
    expect(() => new RedisSessionStateStore(options)).toThrow(message);
    expect(() => new RedisConversationLinkStore(options)).toThrow(message);
  });

  it("rejects session-only options and a timeout beside a given connection", () => {
    expect(() => new RedisSessionStateStore({ now: 5 as unknown as () => number })).toThrow(/now must be a function/);
    expect(() => new RedisSessionStateStore({ sessionDefaults: { cooldownMs: -1 } })).toThrow(/sessionDefaults\.cooldownMs/);
    expect(() => new RedisSessionStateStore({ connection: admin, commandTimeoutMs: 5 })).toThrow(/commandTimeoutMs must be unset/);
  });

  it("does no I/O at construction, even with an unreachable URL", async () => {
    const calls: string[][] = [];
    const client = recordingClient(calls);
    new RedisSessionStateStore({ client });
    new RedisConversationLinkStore({ client });
    new RedisSessionStateStore({ url: await closedPortUrl() });
    expect(calls).toEqual([]);
  });

  it("closes only a connection it created; calls after close reject", async () => {
    const keyPrefix = prefix("owner");
    const shared = track(new RedisSessionStateStore({ connection: admin, keyPrefix }));
    const viaClient = track(new RedisConversationLinkStore({ client: admin, keyPrefix }));
    const owned = track(new RedisSessionStateStore({ url: redisUrl(), keyPrefix }));
    await owned.save(new SessionState({ sessionId: "s-1" }));
    await Promise.all([shared.close(), viaClient.close(), owned.close()]);
    expect(await admin.sendCommand(["PING"])).toBe("PONG");
    await expect(shared.get("s-1")).rejects.toThrow(/RedisSessionStateStore is closed/);
    await expect(viaClient.claim("c-1", "s-1")).rejects.toThrow(/RedisConversationLinkStore is closed/);
    await expect(owned.save(new SessionState({ sessionId: "s-2" }))).rejects.toThrow(/closed/);
  });
});

describe("RedisConversationLinkStore", () => {
  it("keeps one string key per conversation under the prefix, with a TTL only the owner refreshes", async () => {
    const keyPrefix = prefix("link-ttl");
    const store = track(new RedisConversationLinkStore({ connection: admin, keyPrefix, ttlSeconds: 300 }));
    await store.claim("c-1", "s-1");
    expect(await admin.sendCommand(["GET", `${keyPrefix}c-1`])).toBe("s-1");
    expect(await admin.sendCommand(["TTL", `${keyPrefix}c-1`])).toBeGreaterThan(295);
    await admin.sendCommand(["EXPIRE", `${keyPrefix}c-1`, "10"]);
    await store.claim("c-1", "s-2");
    expect(await admin.sendCommand(["TTL", `${keyPrefix}c-1`])).toBeLessThanOrEqual(10);
    await store.claim("c-1", "s-1");
    expect(await admin.sendCommand(["TTL", `${keyPrefix}c-1`])).toBeGreaterThan(295);
  });

  it("uses autoplay:conversation_link: by default", async () => {
    const calls: string[][] = [];
    const client = recordingClient(calls);
    await new RedisConversationLinkStore({ client }).get("c-9");
    expect(calls).toEqual([["GET", "autoplay:conversation_link:c-9"]]);
  });

  it("two instances with their own connections claiming one conversation at once: exactly one creates it", async () => {
    const keyPrefix = prefix("link-race");
    const a = track(new RedisConversationLinkStore({ url: redisUrl(), keyPrefix }));
    const b = track(new RedisConversationLinkStore({ url: redisUrl(), keyPrefix }));
    await Promise.all([a.get("warm-up"), b.get("warm-up")]);
    for (let round = 0; round < 20; round += 1) {
      const conv = `c-${round}`;
      const [x, y] = await Promise.all([a.claim(conv, "s-a"), b.claim(conv, "s-b")]);
      expect([x.created, y.created].filter(Boolean)).toHaveLength(1);
      expect(y.owner).toBe(x.owner);
      expect(await admin.sendCommand(["GET", `${keyPrefix}${conv}`])).toBe(x.owner);
    }
  });

  it("linkConversation on two instances, same session: one NEW, the other REPLY_EXISTING; both linked", async () => {
    const keyPrefix = prefix("link-same");
    const stores = [0, 1].map(() => track(new RedisConversationLinkStore({ url: redisUrl(), keyPrefix })));
    const states = [0, 1].map(() => new SessionState({ sessionId: "s-1" }));
    const results = await Promise.all(states.map((state, i) => linkConversation(state, "c-1", stores[i]!)));
    const events = results.map((r) => (r.ok ? r.event : r.reason)).sort();
    expect(events).toEqual([ConversationEventType.NEW, ConversationEventType.REPLY_EXISTING].sort());
    expect(states.map((s) => s.conversationId)).toEqual(["c-1", "c-1"]);
  });

  it("linkConversation on two instances, different sessions: one links, the other gets a conflict", async () => {
    const keyPrefix = prefix("link-conflict");
    const stores = [0, 1].map(() => track(new RedisConversationLinkStore({ url: redisUrl(), keyPrefix })));
    const states = ["s-a", "s-b"].map((sessionId) => new SessionState({ sessionId }));
    const results = await Promise.all(states.map((state, i) => linkConversation(state, "c-1", stores[i]!)));
    const winner = results.findIndex((r) => r.ok);
    const loser = 1 - winner;
    expect(results[winner]).toEqual({ ok: true, event: ConversationEventType.NEW, changed: true });
    expect(results[loser]).toEqual({ ok: false, reason: "conflict", owner: states[winner]!.sessionId });
    expect(states[loser]!.conversationLinked).toBe(false);
  });

  it("a claim against an unreachable Redis rejects quickly with RedisUnavailableError", async () => {
    const store = track(new RedisConversationLinkStore({ url: await closedPortUrl(), commandTimeoutMs: 500 }));
    const started = Date.now();
    await expect(store.claim("c-1", "s-1")).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(store.get("c-1")).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
