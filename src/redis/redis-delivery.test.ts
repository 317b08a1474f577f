import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import type { ChatbotWriterOptions } from "../writer/options.js";
import { slim } from "../writer/test-support/actions.js";
import { RedisUnavailableError } from "./commands.js";
import type { RedisConnection } from "./connection.js";
import { redisDelivery } from "./redis-delivery.js";

const T0 = Math.floor(Date.now() / 1000);
let redis: RedisConnection;
let prefix: string;
const writers: RecordingChatbotWriter[] = [];

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await redis.close();
});

afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  await deleteByPrefix(redis, prefix);
});

function writer(options: Partial<ChatbotWriterOptions> = {}): RecordingChatbotWriter {
  const w = createTestWriter({
    postLinkDebounceMs: 50,
    closeTimeoutMs: 2000,
    delivery: redisDelivery({ connection: redis, keyPrefix: prefix, pollIntervalMs: 50, leaseMarginMs: 300 }),
    ...options,
  });
  writers.push(w);
  return w;
}

function lines(w: RecordingChatbotWriter): string[] {
  return w.notes.flatMap((n) => n.body.split("\n").slice(3).filter((l) => l !== "").map((l) => l.replace(/^\[\d+\] /, "")));
}

describe("Redis delivery", () => {
  it("buffers before the link, flushes one binned note, then debounces one note per burst", async () => {
    prefix = uniquePrefix("delivery-basic");
    const w = writer();
    await w.writeActions(null, "s", [slim("one", T0 + 0.1, 0)]);
    await w.writeActions(null, "s", [slim("two", T0 + 0.2, 1), slim("three", T0 + 7, 2)]);
    await new Promise((r) => setTimeout(r, 120));
    expect(w.calls).toHaveLength(0);
    await w.onSessionLinked("s", "c");
    await vi.waitFor(() => expect(w.notes).toHaveLength(1));
    expect(w.notes[0]?.body.split("\n\n").slice(1)).toEqual(["[1] one\n[2] two", "[3] three"]);

    for (let i = 0; i < 4; i++) await w.writeActions(null, "s", [slim(`post ${i}`, T0 + 10 + i, 3 + i)]);
    await vi.waitFor(() => expect(w.notes).toHaveLength(2));
    expect(w.notes[1]?.body.split("\n\n")[1]).toBe("[1] post 0\n[2] post 1\n[3] post 2\n[4] post 3");
    await w.onIdle();
    expect(await w.getPartIds("s")).toEqual(["part-1", "part-2"]);
    expect(await w.linkedConversation("s")).toBe("c");
  });

  it("puts the actions of a payload delivered twice into one note once", async () => {
    prefix = uniquePrefix("delivery-dedupe");
    const a = writer();
    const b = writer();
    const batch = [slim("x", T0, 0), slim("y", T0 + 1, 1)];
    await a.onSessionLinked("s", "c");
    await Promise.all([a.writeActions(null, "s", batch), b.writeActions(null, "s", batch), a.writeActions(null, "s", batch)]);
    await vi.waitFor(() => expect([...a.notes, ...b.notes]).toHaveLength(1));
    expect([...lines(a), ...lines(b)]).toEqual(["x", "y"]);
  });

  it("retries a failing post and delivers every action once, in order; dead-letters after the budget", async () => {
    prefix = uniquePrefix("delivery-retry");
    const w = writer({ retry: { baseDelayMs: 50, jitter: 0, maxAttempts: 3 } });
    w.failNext(2);
    await w.writeActions("c", "s", [slim("a", T0, 0)]);
    await new Promise((r) => setTimeout(r, 70));
    await w.writeActions("c", "s", [slim("b", T0 + 1, 1)]);
    await vi.waitFor(() => expect(w.notes.length).toBeGreaterThanOrEqual(1), { timeout: 3000 });
    await w.onIdle();
    expect(lines(w)).toEqual(["a", "b"]);
    expect(w.calls.map((c) => c.outcome).slice(0, 3)).toEqual(["failed", "failed", "delivered"]);

    w.failNext(3, new Error("down"));
    await w.writeActions("c", "s", [slim("lost?", T0 + 2, 2)]);
    await vi.waitFor(async () => expect(await w.deadLetters()).toHaveLength(1), { timeout: 3000 });
    expect((await w.deadLetters())[0]).toMatchObject({ reason: "retries_exhausted", actions: [{ description: "lost?" }] });
    const shared = (await redis.sendCommand(["LRANGE", `${prefix}dead`, "0", "-1"])) as string[];
    expect(shared.map((l) => (JSON.parse(l) as { sessionId: string }).sessionId)).toEqual(["s"]);
  });

  it("keeps the pre-link buffer, link and part ids across a restart", async () => {
    prefix = uniquePrefix("delivery-restart");
    const before = writer();
    await before.writeActions(null, "s", [slim("before restart", T0, 0)]);
    await before.close();

    const after = writer();
    await after.onSessionLinked("s", "c");
    await vi.waitFor(() => expect(after.notes).toHaveLength(1));
    await after.onIdle();
    await after.close();

    const third = writer();
    await third.writeActions(null, "s", [slim("after restart", T0 + 5, 1)]);
    await vi.waitFor(() => expect(third.notesIn("c")).toHaveLength(1));
    expect([...lines(after), ...lines(third)]).toEqual(["before restart", "after restart"]);
    await third.onIdle();
    expect(await third.getPartIds("s")).toEqual(["part-1", "part-1"]);
    expect(await third.takePartIds("s")).toHaveLength(2);
    expect(await third.getPartIds("s")).toEqual([]);
  });

  it("takes a batch of 12,000 actions and flushes it as split notes, nothing lost", async () => {
    prefix = uniquePrefix("delivery-large");
    const w = writer({ maxNoteActions: 5000, maxDedupeIds: 20_000 });
    const actions = Array.from({ length: 12_000 }, (_, i) => slim(`a${i}`, T0 + i / 1000, i));
    await w.writeActions(null, "s", actions);
    await w.writeActions(null, "s", actions); // a replay is deduplicated
    await w.onSessionLinked("s", "c");
    await vi.waitFor(() => expect(lines(w)).toHaveLength(12_000), { timeout: 8000 });
    expect(lines(w)).toEqual(actions.map((a) => a.description));
    expect(w.notes.length).toBeGreaterThanOrEqual(3); // split by maxNoteActions and maxNoteChars
  });

  it("lets only LINK move a linked session: a stale write cannot move it back", async () => {
    prefix = uniquePrefix("delivery-relink");
    const w = writer();
    await w.onSessionLinked("s", "old");
    await w.onSessionLinked("s", "new");
    await w.writeActions("old", "s", [slim("from a stale instance", T0, 0)]);
    await vi.waitFor(() => expect(w.notes).toHaveLength(1));
    expect(w.notes[0]?.conversationId).toBe("new");
    expect(await w.linkedConversation("s")).toBe("new");
  });

  it("tells a Redis error reply from an outage", async () => {
    prefix = uniquePrefix("delivery-reply");
    await redis.sendCommand(["SET", `${prefix}str`, "x"]);
    const failure = redis.sendCommand(["LPUSH", `${prefix}str`, "y"]);
    await expect(failure).rejects.toThrow(/WRONGTYPE/);
    await expect(failure).rejects.not.toBeInstanceOf(RedisUnavailableError);
  });

  it("reports a Redis outage as a fast error, not a hang", async () => {
    prefix = uniquePrefix("delivery-down");
    const w = createTestWriter({ delivery: redisDelivery({ url: "redis://127.0.0.1:1", commandTimeoutMs: 300 }) });
    const started = Date.now();
    await expect(w.writeActions(null, "s", [slim("a", T0)])).rejects.toThrow(/Redis/);
    expect(Date.now() - started).toBeLessThan(1500);
    await w.close();
  });
});
