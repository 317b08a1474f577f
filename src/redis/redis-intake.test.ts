import { describe, expect, it, vi } from "vitest";
import type { NoteAction } from "../payloads/types.js";
import { slim } from "../writer/test-support/actions.js";
import { RedisEvictionPolicyError } from "./eviction-policy.js";
import { FaultyClient, linesOf, redisTestBed, sleep } from "./test-support/harness.js";

// Issue 7 (a) dedupe, (j) bounded memory, (l) empty batches and links made by writes.
const bed = redisTestBed("intake");
const T0 = Math.floor(Date.now() / 1000);

/** The shape of examples/quick-start.mjs: index 0 and whole-second stamps on every action. */
function quick(description: string): NoteAction {
  return { index: 0, type: "click", description, timestamp_start: T0, timestamp_end: T0 } as NoteAction;
}

describe("dedupe (a)", () => {
  it("never drops distinct actions that share index 0 and a whole-second stamp", async () => {
    const w = bed.make();
    await w.onSessionLinked("s", "c");
    const first = await w.writeActions(null, "s", [quick("open page"), quick("click save")]);
    const second = await w.writeActions(null, "s", [quick("click publish")]);
    expect(first).toMatchObject({ accepted: 2, duplicates: 0, trimmed: 0 });
    expect(second).toMatchObject({ accepted: 1, duplicates: 0, trimmed: 0 });
    await vi.waitFor(() => expect(linesOf(w.delivered)).toEqual(["open page", "click save", "click publish"]), { timeout: 3000 });
    expect(w.stats().actionsDuplicate).toBe(0);
  });

  it("counts a replayed batch once, reports and emits the duplicates; repeats inside one batch count once", async () => {
    const w = bed.make();
    const events: Array<{ sessionId: string; count: number }> = [];
    w.on("duplicates", (e) => events.push(e));
    await w.onSessionLinked("s", "c");
    const batch = [slim("x", T0 - 9, 0), slim("y", T0 - 8, 1)];
    expect(await w.writeActions(null, "s", batch)).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(await w.writeActions(null, "s", batch.map((a) => ({ ...a })))).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await w.writeActions(null, "s", [slim("z", T0 - 7, 2), slim("z", T0 - 7, 2)])).toMatchObject({ accepted: 1, duplicates: 1 });
    // Without wire identity, a replayed batch is recognised by its content.
    const bare = [{ description: "no index" }, { description: "no index" }] as NoteAction[];
    expect(await w.writeActions(null, "s", bare)).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(await w.writeActions(null, "s", bare)).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(w.stats().actionsDuplicate).toBe(5);
    expect(events).toEqual([{ sessionId: "s", count: 2 }, { sessionId: "s", count: 1 }, { sessionId: "s", count: 2 }]);
    await vi.waitFor(() => expect(linesOf(w.delivered)).toEqual(["x", "y", "z", "no index", "no index"]), { timeout: 3000 });
  });

  it("keeps the dedupe ZSET bounded by maxDedupeIds and dedupeWindowMs", async () => {
    let now = Date.now();
    const w = bed.make({ now: () => now, maxDedupeIds: 3, dedupeWindowMs: 60_000 });
    for (const i of [0, 1, 2, 3, 4]) {
      now += 1;
      await w.writeActions(null, "s", [slim(`a${i}`, T0 + i, i)]);
    }
    const seen = `${bed.prefix}s:s:dedupe`;
    expect(await bed.redis.sendCommand(["ZCARD", seen])).toBe(3);
    // Set to two windows when it was created, and not again within the first window.
    const pttl = Number(await bed.redis.sendCommand(["PTTL", seen]));
    expect(pttl).toBeGreaterThan(60_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
    // The oldest ids were forgotten, the newest remembered.
    expect(await w.writeActions(null, "s", [slim("a4", T0 + 4, 4)])).toMatchObject({ duplicates: 1 });
    now += 61_000;
    expect(await w.writeActions(null, "s", [slim("a4", T0 + 4, 4)])).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(Number(await bed.redis.sendCommand(["ZCARD", seen]))).toBeLessThanOrEqual(3);
  });
});

describe("bounded Redis memory (j)", () => {
  it("keeps the dedupe count bound when meta is gone but the dedupe key lives on", async () => {
    // A clock that moves on every write: ids accepted in the same ms tie and are trimmed in id order.
    let now = Date.now();
    const w = bed.make({ maxDedupeIds: 3, now: () => (now += 1) });
    const seen = `${bed.prefix}s:s:dedupe`;
    await w.writeActions(null, "s", [slim("a", T0, 0), slim("b", T0, 1), slim("c", T0, 2)]);
    // An unlinked session's meta expires with its window, the dedupe key later: its size is counted again.
    await bed.redis.sendCommand(["DEL", `${bed.prefix}s:s:meta`]);
    await w.writeActions(null, "s", [slim("d", T0, 3), slim("e", T0, 4)]);
    expect(Number(await bed.redis.sendCommand(["ZCARD", seen]))).toBe(3);
    // A key that vanished (evicted, deleted) while meta remembers its size only makes the bound trim early.
    await bed.redis.sendCommand(["DEL", seen]);
    await w.writeActions(null, "s", [slim("f", T0, 5)]);
    await w.writeActions(null, "s", [slim("g", T0, 6), slim("h", T0, 7), slim("i", T0, 8)]);
    expect(Number(await bed.redis.sendCommand(["ZCARD", seen]))).toBe(3);
    expect(await w.writeActions(null, "s", [slim("i", T0, 8)])).toMatchObject({ duplicates: 1 });
  });

  it("a dedupe or pre key evicted while meta lives on gets its expiry from the write that creates it again", async () => {
    const start = Date.now();
    let now = start;
    const t = Math.floor(start / 1000);
    const w = bed.make({ preLinkWindowMs: 60_000, now: () => now });
    const key = (part: string) => `${bed.prefix}s:s:${part}`;
    await w.writeActions(null, "s", [slim("a", t, 0)]);
    // Evicted (here deleted) under a volatile-* policy, which never evicts a key without an expiry.
    await bed.redis.sendCommand(["DEL", key("dedupe"), key("pre")]);
    // A newer action within the slack of the recorded expiry: meta says nothing needs setting.
    now += 100;
    await w.writeActions(null, "s", [slim("b", t + 0.3, 1)]);
    for (const part of ["dedupe", "pre"]) {
      expect(await bed.redis.sendCommand(["EXISTS", key(part)])).toBe(1);
      expect(Number(await bed.redis.sendCommand(["PTTL", key(part)]))).toBeGreaterThan(0);
    }
  });

  it("an instance with a longer dedupe window sets the expiry of a dedupe key a shorter window let expire", async () => {
    const short = bed.make({ dedupeWindowMs: 200 });
    const long = bed.make({ dedupeWindowMs: 60_000 });
    const seen = `${bed.prefix}s:s:dedupe`;
    await short.writeActions(null, "s", [slim("a", T0, 0)]);
    await sleep(500);
    expect(await bed.redis.sendCommand(["EXISTS", seen])).toBe(0);
    await long.writeActions(null, "s", [slim("b", T0, 1)]);
    expect(Number(await bed.redis.sendCommand(["PTTL", seen]))).toBeGreaterThan(60_000);
  });

  it("a linked session's keys outlive its last write by at least ttlSeconds, and a list a write creates gets an expiry", async () => {
    let now = Date.now();
    const ttlMs = 64_000;
    const w = bed.make({ now: () => now, postLinkDebounceMs: 60_000, maxWaitMs: 120_000 }, { ttlSeconds: ttlMs / 1000 });
    const key = (part: string) => `${bed.prefix}s:s:${part}`;
    const pttl = async (part: string) => Number(await bed.redis.sendCommand(["PTTL", key(part)]));
    await w.onSessionLinked("s", "c");
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    expect(await pttl("meta")).toBeGreaterThan(ttlMs);
    expect(await pttl("pending")).toBeGreaterThan(ttlMs);
    // The note goes out and its list with it; the next write, within the slack, creates the list again.
    await w.flush();
    expect(await bed.redis.sendCommand(["EXISTS", key("pending")])).toBe(0);
    // Claim and confirm within the slack set the expiry of what they wrote (and created) only.
    for (const part of ["done", "parts", "notes"]) expect(await pttl(part)).toBeGreaterThan(ttlMs);
    now += 100;
    await w.writeActions(null, "s", [slim("b", T0, 1)]);
    expect(await pttl("pending")).toBeGreaterThan(ttlMs - 1000);
    // Past the slack (ttl / 64 = 1 s here), a write sets every key's expiry again, not only
    // those it writes: claims and confirms within the next slack rely on it.
    for (const part of ["meta", "pending", "parts", "done", "notes"]) await bed.redis.sendCommand(["PEXPIRE", key(part), "5000"]);
    now += 1000;
    await w.writeActions(null, "s", [slim("c", T0, 2)]);
    for (const part of ["meta", "pending", "parts", "done", "notes"]) expect(await pttl(part)).toBeGreaterThan(ttlMs);
  });

  it("expires an unlinked session's pre-link keys with the pre-link window, not after 24 h", async () => {
    const w = bed.make({ preLinkWindowMs: 10_000 });
    await w.writeActions(null, "s", [slim("a", T0, 0)]);
    for (const part of ["pre", "meta"]) {
      const ttl = Number(await bed.redis.sendCommand(["PTTL", `${bed.prefix}s:s:${part}`]));
      expect(ttl).toBeGreaterThan(0);
      // The window past the action's stamp, plus a second, plus at most a 16th of the window.
      expect(ttl).toBeLessThanOrEqual(10_000 + 1000 + 625);
    }
  });

  it("sets the pre-link expiry again when the newest action moves on, and gives a pre the trim emptied a new one", async () => {
    const windowMs = 10_000;
    const start = Date.now();
    let now = start;
    const t = Math.floor(start / 1000);
    const w = bed.make({ preLinkWindowMs: windowMs, now: () => now });
    const pttl = async () => Number(await bed.redis.sendCommand(["PTTL", `${bed.prefix}s:s:pre`]));
    await w.writeActions(null, "s", [slim("a", t, 0)]);
    const first = await pttl();
    // A newer action within the slack: the expiry stands.
    await w.writeActions(null, "s", [slim("b", t + 0.3, 1)]);
    expect(await pttl()).toBeLessThanOrEqual(first);
    // Past the slack: set again, later.
    await w.writeActions(null, "s", [slim("c", t + 2, 2)]);
    expect(await pttl()).toBeGreaterThan(first + 1000);
    await w.writeActions(null, "s", [slim("c2", t + 2.1, 5)]);
    // An instance whose clock is ahead trims every action out of the window. One a second behind
    // it still has c2 in its window: a batch of only a replayed action, then a new action; the
    // pre that new action creates again gets an expiry.
    const ahead = bed.make({ preLinkWindowMs: windowMs, now: () => (t + 2.1) * 1000 + windowMs + 500 });
    await ahead.writeActions(null, "s", [slim("old", t - 100, 6)]);
    expect(await bed.redis.sendCommand(["EXISTS", `${bed.prefix}s:s:pre`])).toBe(0);
    const behind = bed.make({ preLinkWindowMs: windowMs, now: () => (t + 2.1) * 1000 + windowMs - 500 });
    expect(await behind.writeActions(null, "s", [slim("c2", t + 2.1, 5)])).toMatchObject({ duplicates: 1 });
    await behind.writeActions(null, "s", [slim("c3", t + 2.2, 7)]);
    expect(await pttl()).toBeGreaterThan(0);
    // Every action leaves the window: a write of an old action empties pre, and the next write
    // creates it again; its newest action would fit the expiry meta recorded, but the key is new.
    now = (t + 2.2) * 1000 + windowMs + 100;
    await w.writeActions(null, "s", [slim("old", t - 100, 3)]);
    expect(await bed.redis.sendCommand(["EXISTS", `${bed.prefix}s:s:pre`])).toBe(0);
    await w.writeActions(null, "s", [slim("d", t + 2.4, 4)]);
    expect(await pttl()).toBeGreaterThan(0);
  });

  it("reads the newest pre-link stamp from pre when something else added to it (another release's instance)", async () => {
    const windowMs = 300_000;
    const w = bed.make({ preLinkWindowMs: windowMs });
    const key = (part: string) => `${bed.prefix}s:s:${part}`;
    await w.writeActions(null, "s", [slim("old", T0 - 200, 0)]);
    // What an earlier release's WRITE does: number the member with HINCRBY and add it, newer.
    const seq = Number(await bed.redis.sendCommand(["HINCRBY", key("meta"), "seq", "1"])) - 1;
    await bed.redis.sendCommand(["ZADD", key("pre"), String(T0), `${String(seq).padStart(16, "0")}[${T0},"newer"]`]);
    await w.writeActions(null, "s", [slim("older", T0 - 100, 1)]);
    const pttl = Number(await bed.redis.sendCommand(["PTTL", key("pre")]));
    expect(pttl).toBeGreaterThan(T0 * 1000 + windowMs - Date.now() - 5000);
  });

  it("warns loudly at start when maxmemory-policy may evict, and refuses with requireNoEviction", async () => {
    const client = new FaultyClient(bed.redis);
    client.fakePolicy = "allkeys-lru";
    const warned = bed.make({}, { client });
    await warned.writeActions(null, "s", [slim("a", T0, 0)]);
    await warned.writeActions(null, "s", [slim("b", T0, 1)]);
    const warnings = warned.logs.filter((l) => l.message.includes("maxmemory-policy"));
    expect(warnings.map((l) => l.level)).toEqual(["error"]);
    expect(warnings[0]?.message).toContain("noeviction");

    const strict = bed.make({}, { client, requireNoEviction: true });
    await expect(strict.writeActions(null, "s2", [slim("a", T0, 0)])).rejects.toBeInstanceOf(RedisEvictionPolicyError);
    await expect(strict.onSessionLinked("s2", "c")).rejects.toBeInstanceOf(RedisEvictionPolicyError);

    const fine = new FaultyClient(bed.redis);
    fine.fakePolicy = "noeviction";
    const ok = bed.make({}, { client: fine, requireNoEviction: true });
    await ok.writeActions(null, "s3", [slim("a", T0, 0)]);
    expect(ok.logs).toEqual([]);
  });
});

describe("small ones (l)", () => {
  it("an empty batch makes no Redis call and changes nothing", async () => {
    const client = new FaultyClient(bed.redis);
    const w = bed.make({}, { client });
    expect(await w.writeActions("c", "s", [])).toEqual({ accepted: 0, duplicates: 0, trimmed: 0 });
    expect(await w.writeActions("c", "s", [null as unknown as NoteAction])).toEqual({ accepted: 0, duplicates: 0, trimmed: 0 });
    expect(client.ran.size).toBe(0);
    expect(await w.linkedConversation("s")).toBeNull();
  });

  it("a write that makes the first link emits linked, with or without buffered actions", async () => {
    const w = bed.make();
    const linked: unknown[] = [];
    w.on("linked", (e) => linked.push(e));
    await w.writeActions("c1", "empty", [slim("a", T0, 0)]);
    await w.writeActions(null, "buffered", [slim("b", T0, 0)]);
    await w.writeActions("c2", "buffered", [slim("c", T0 + 1, 1)]);
    await w.writeActions("c3", "buffered", [slim("d", T0 + 2, 2)]); // not a re-target
    expect(linked).toEqual([
      { sessionId: "empty", conversationId: "c1", bufferedActions: 0 },
      { sessionId: "buffered", conversationId: "c2", bufferedActions: 1 },
    ]);
    await vi.waitFor(() => expect(w.delivered.map((c) => c.conversationId).sort()).toEqual(["c1", "c2", "c2"]), { timeout: 3000 });
  });
});
