import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closedPortUrl, connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../../test/support/redis.js";
import { ConcurrentUpdateError } from "../errors.js";
import { RedisUnavailableError, type RedisCommands } from "../redis/commands.js";
import type { RedisConnection } from "../redis/connection.js";
import { ConversationEventType } from "../session/conversation-event.js";
import { SessionState } from "../session/session-state.js";
import { RedisSessionStateStore, type RedisSessionStateStoreOptions } from "./redis-session-state-store.js";

let admin: RedisConnection;
let keyPrefix: string;
const stores: RedisSessionStateStore[] = [];

/** A store under this test's prefix, closed after the test. */
function open(options: RedisSessionStateStoreOptions = {}): RedisSessionStateStore {
  const store = new RedisSessionStateStore({ keyPrefix, ...(options.client ? {} : { url: redisUrl() }), ...options });
  stores.push(store);
  return store;
}

async function stored(sessionId: string): Promise<Record<string, unknown>> {
  return JSON.parse((await admin.sendCommand(["GET", `${keyPrefix}${sessionId}`])) as string) as Record<string, unknown>;
}

/** The reload-and-re-apply loop a caller runs around a compare-and-set save. */
async function update(store: RedisSessionStateStore, sessionId: string, apply: (state: SessionState) => void): Promise<number> {
  for (let conflicts = 0; ; conflicts += 1) {
    const state = await store.getOrCreate(sessionId);
    apply(state);
    try {
      await store.save(state);
      return conflicts;
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }
}

beforeAll(async () => {
  admin = await connectTestRedis();
});
beforeEach(() => {
  keyPrefix = uniquePrefix("session");
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await deleteByPrefix(admin, keyPrefix);
});
afterAll(async () => {
  await admin?.close();
});

describe("RedisSessionStateStore", () => {
  it("stores one JSON value per session at `${keyPrefix}${sessionId}`: the snapshot plus revision and write_id", async () => {
    const store = open();
    const state = new SessionState({ sessionId: "s-1", metadata: { user_id: "u-1" } });
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    await store.save(state);
    const first = await stored("s-1");
    expect(first).toEqual({ ...state.toJSON(), revision: 1, write_id: expect.any(String) as string });
    await store.save(state);
    const second = await stored("s-1");
    expect(second.revision).toBe(2);
    expect(second.write_id).not.toBe(first.write_id);
    // A whole SCAN (one call sees only part of a big database).
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = (await admin.sendCommand(["SCAN", cursor, "MATCH", `${keyPrefix}*`, "COUNT", "1000"])) as [string, string[]];
      keys.push(...found);
      cursor = next;
    } while (cursor !== "0");
    expect(keys).toEqual([`${keyPrefix}s-1`]);
  });

  it("uses autoplay:session_state: by default", async () => {
    const calls: string[][] = [];
    const client: RedisCommands = {
      sendCommand: async (args) => {
        calls.push([...args]);
        return null;
      },
    };
    expect(await new RedisSessionStateStore({ client }).get("s-9")).toBeNull();
    expect(calls).toEqual([["GET", "autoplay:session_state:s-9"]]);
  });

  it("sets the TTL on save and refreshes it on every save", async () => {
    const store = open({ ttlSeconds: 600 });
    const state = await store.getOrCreate("s-1");
    await store.save(state);
    const key = `${keyPrefix}s-1`;
    expect(await admin.sendCommand(["TTL", key])).toBeGreaterThan(595);
    await admin.sendCommand(["EXPIRE", key, "5"]);
    state.metadata.seen = true;
    await store.save(state);
    expect(await admin.sendCommand(["PTTL", key])).toBeGreaterThan(595_000);
  });

  it("gives a session saved while unlinked its own, shorter TTL, and a linked one the full TTL (#7 k)", async () => {
    const store = open({ ttlSeconds: 600, unlinkedTtlSeconds: 30 });
    expect(store.unlinkedTtlMs).toBe(30_000);
    const state = await store.getOrCreate("s-1");
    await store.save(state);
    const key = `${keyPrefix}s-1`;
    expect(await admin.sendCommand(["TTL", key])).toBeLessThanOrEqual(30);
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    await store.save(state);
    expect(await admin.sendCommand(["TTL", key])).toBeGreaterThan(595);
    expect(() => open({ unlinkedTtlSeconds: 0 })).toThrow(/unlinkedTtlSeconds must be a whole number of seconds > 0/);
    expect(open().unlinkedTtlMs).toBe(86_400_000);
  });

  it("gives loaded and created states its clock and session defaults", async () => {
    let now = 1_700_000_000_000;
    const store = open({ now: () => now, sessionDefaults: { interactionTimeoutMs: 5, cooldownMs: 7 } });
    const state = await store.getOrCreate("s-1");
    expect(state.toJSON().created_at_ms).toBe(now);
    state.transitionToReactive();
    await store.save(state);
    now += 6;
    const loaded = (await store.get("s-1"))!;
    expect(loaded.tick()).toBe(true);
    expect(loaded.cooldownRemainingMs()).toBe(7);
  });

  it("a read error is an error, never null: unreachable Redis rejects quickly with RedisUnavailableError", async () => {
    const store = open({ url: await closedPortUrl(), commandTimeoutMs: 500 });
    const started = Date.now();
    await expect(store.get("s-1")).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(store.getOrCreate("s-1")).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(store.save(new SessionState({ sessionId: "s-1" }))).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("a corrupt, foreign or wrongly typed value at the key rejects, and save will not overwrite it", async () => {
    const store = open();
    await admin.sendCommand(["SET", `${keyPrefix}bad`, "{not json"]);
    await expect(store.get("bad")).rejects.toThrow(/Redis key .*bad is not a readable session snapshot/);
    await expect(store.getOrCreate("bad")).rejects.toThrow(/not a readable session snapshot/);
    await expect(store.save(new SessionState({ sessionId: "bad" }))).rejects.toThrow(/not a session snapshot; not overwriting/);
    expect(await admin.sendCommand(["GET", `${keyPrefix}bad`])).toBe("{not json");

    await admin.sendCommand(["SET", `${keyPrefix}other`, JSON.stringify(new SessionState({ sessionId: "someone-else" }))]);
    await expect(store.get("other")).rejects.toThrow(/belongs to session "someone-else"/);
    await admin.sendCommand(["SET", `${keyPrefix}rev`, JSON.stringify({ ...new SessionState({ sessionId: "rev" }).toJSON(), revision: -2 })]);
    await expect(store.get("rev")).rejects.toThrow(/revision/);
    await admin.sendCommand(["HSET", `${keyPrefix}hash`, "f", "v"]);
    await expect(store.get("hash")).rejects.toThrow(/WRONGTYPE/);
  });

  it("reads a snapshot stored without a revision (written by another tool) and saves over it once", async () => {
    const store = open();
    await admin.sendCommand(["SET", `${keyPrefix}legacy`, JSON.stringify(new SessionState({ sessionId: "legacy", metadata: { v: 1 } }))]);
    await expect(store.save(new SessionState({ sessionId: "legacy" }))).rejects.toBeInstanceOf(ConcurrentUpdateError);
    const loaded = (await store.get("legacy"))!;
    loaded.metadata.v = 2;
    await store.save(loaded);
    expect(await stored("legacy")).toMatchObject({ metadata: { v: 2 }, revision: 1 });
  });

  it("refuses a stale state after the session was deleted and re-created at the same revision", async () => {
    const a = open();
    const b = open();
    const first = new SessionState({ sessionId: "aba" });
    await a.save(first);
    const stale = await a.get("aba");
    await b.delete("aba");
    const recreated = new SessionState({ sessionId: "aba", metadata: { fresh: true } });
    await b.save(recreated); // revision 1 again
    stale!.metadata.stale = true;
    await expect(a.save(stale!)).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect((await stored("aba")).metadata).toEqual({ fresh: true });
  });

  it("two instances with their own connections saving one session at once: one ConcurrentUpdateError, nothing lost", async () => {
    const [a, b] = [open(), open()];
    await a.save(new SessionState({ sessionId: "s-1" }));
    const [fromA, fromB] = [(await a.get("s-1"))!, (await b.get("s-1"))!];
    fromA.metadata.a = true;
    fromB.metadata.b = true;
    const results = await Promise.allSettled([a.save(fromA), b.save(fromB)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((r) => r.status === "rejected");
    expect(failed?.reason).toBeInstanceOf(ConcurrentUpdateError);

    const perInstance = 15;
    const append = (who: string, i: number) => (state: SessionState) => {
      state.metadata[`${who}${i}`] = i;
    };
    const conflicts = await Promise.all(
      [a, b].map(async (store, n) => {
        let total = 0;
        for (let i = 0; i < perInstance; i += 1) total += await update(store, "s-1", append(n === 0 ? "a" : "b", i));
        return total;
      }),
    );
    const final = (await a.get("s-1"))!;
    expect(Object.keys(final.metadata).filter((k) => /^[ab]\d+$/.test(k))).toHaveLength(2 * perInstance);
    expect((await stored("s-1")).revision).toBe(2 + 2 * perInstance);
    expect(conflicts.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
  });

  it("a save whose first try applied but whose reply was lost is retried and not reported as a conflict", async () => {
    let failReplies = 0;
    const scripts: string[] = [];
    const flaky: RedisCommands = {
      sendCommand: async (args, options) => {
        const reply = await admin.sendCommand(args, options);
        if (args[0]?.startsWith("EVAL")) {
          scripts.push(args[0]);
          if (failReplies > 0) {
            failReplies -= 1;
            throw new Error("socket closed before the reply arrived");
          }
        }
        return reply;
      },
    };
    const store = open({ client: flaky });
    const state = new SessionState({ sessionId: "s-1" });
    await store.save(state);
    failReplies = 1;
    state.metadata.retried = true;
    await expect(store.save(state)).resolves.toBeUndefined();
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    expect(await stored("s-1")).toMatchObject({ revision: 2, metadata: { retried: true } });
    state.metadata.after = true;
    await store.save(state);
    expect((await stored("s-1")).revision).toBe(3);

    failReplies = 3;
    state.metadata.lost = true;
    await expect(store.save(state)).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(await stored("s-1")).toMatchObject({ revision: 4, metadata: { lost: true } });
  });

  it("a transient failure before the script ran is retried", async () => {
    let failures = 1;
    const flaky: RedisCommands = {
      sendCommand: async (args, options) => {
        if (args[0]?.startsWith("EVAL") && failures > 0) {
          failures -= 1;
          throw new Error("connection reset");
        }
        return admin.sendCommand(args, options);
      },
    };
    const store = open({ client: flaky });
    await store.save(new SessionState({ sessionId: "s-1" }));
    expect((await stored("s-1")).revision).toBe(1);
  });
});
