/** `stateCacheMs`: a batch for a session this manager just read or saved needs no store read. */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import type { RedisConnection } from "../redis/connection.js";
import { redisBackends, type RedisBackends } from "../redis/redis-backends.js";
import type { SessionState } from "../session/session-state.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import { RecordingChatbotWriter } from "../testing/index.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";
import { UnlinkingWriter } from "./test-support/unlinking-writer.js";

const T0 = Math.floor(Date.now() / 1000);
const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** A session store that counts its reads. */
class CountingStore extends InMemorySessionStateStore {
  reads = 0;
  override async get(sessionId: string): Promise<SessionState | null> {
    this.reads++;
    return super.get(sessionId);
  }
}

function open(stateCacheMs?: number): { manager: AutoplayChatbotManager; writer: UnlinkingWriter; store: CountingStore } {
  const writer = new UnlinkingWriter({ productId: "test", logger: {}, postLinkDebounceMs: 1 });
  const store = new CountingStore();
  const manager = new AutoplayChatbotManager({ writer, sessionStore: store, ...(stateCacheMs === undefined ? {} : { stateCacheMs }) });
  closing.push(() => manager.close());
  return { manager, writer, store };
}

const batch = (i: number, extra: Record<string, unknown> = {}) => ({ type: "actions", session_id: "s", actions: [slim(`a${i}`, T0 + i, i)], ...extra });

describe("stateCacheMs", () => {
  it("reads a given store once for a stream of batches, and on every batch with stateCacheMs: 0", async () => {
    const cached = open();
    await cached.manager.onActions(batch(0)); // first sight: read, then create
    const first = cached.store.reads;
    for (let i = 1; i < 5; i++) await cached.manager.onActions(batch(i));
    expect(cached.store.reads).toBe(first);
    const uncached = open(0);
    await uncached.manager.onActions(batch(0));
    for (let i = 1; i < 5; i++) await uncached.manager.onActions(batch(i));
    expect(uncached.store.reads).toBe(first + 4);
  });

  it("reads again once the hint is older than stateCacheMs", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: T0 * 1000 });
    try {
      const { manager, store } = open(1_000);
      await manager.onActions(batch(0));
      const first = store.reads;
      await manager.onActions(batch(1));
      expect(store.reads).toBe(first);
      vi.setSystemTime(T0 * 1000 + 1_001);
      await manager.onActions(batch(2));
      expect(store.reads).toBe(first + 1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a changed identity is read and saved; a link made here routes the next batch without a read", async () => {
    const { manager, writer, store } = open();
    await manager.onActions(batch(0, { user_id: "u1" }));
    const first = store.reads;
    await manager.onActions(batch(1, { user_id: "u2" }));
    expect(store.reads).toBe(first + 1);
    expect((await store.get("s"))?.metadata.user_id).toBe("u2");
    await manager.onChatbotEvent("s", "c-1");
    const reads = store.reads;
    expect(await manager.onActions(batch(2, { user_id: "u2" }))).toMatchObject({ conversationId: "c-1" });
    expect(store.reads).toBe(reads);
    // Routed by the engine's own link: a remembered read names no conversation.
    expect(writer.routed.at(-1)).toEqual({ sessionId: "s", conversationId: null });
    await vi.waitFor(() => expect(writer.notesIn("c-1").map((n) => n.body).join("\n")).toMatch(/a2/));
  });

  it("forgets a session the writer reports gone, so its next batch is routed as unlinked", async () => {
    const { manager, writer } = open();
    await manager.onChatbotEvent("s", "c-1");
    await manager.onActions(batch(0));
    writer.emitUnlinked("s", "c-1");
    expect(await manager.onActions(batch(1))).toMatchObject({ conversationId: null });
  });

  it("refuses a negative or infinite stateCacheMs", () => {
    const writer = new RecordingChatbotWriter({ productId: "test", logger: {} });
    closing.push(() => writer.close());
    expect(() => new AutoplayChatbotManager({ writer, stateCacheMs: -1 })).toThrow(/stateCacheMs/);
    expect(() => new AutoplayChatbotManager({ writer, stateCacheMs: Infinity })).toThrow(/stateCacheMs/);
  });
});

it("a remembered read cannot send a batch to a conversation the engine knows is gone", async () => {
  const { manager, writer } = open();
  await manager.onChatbotEvent("s", "c-1");
  await manager.onActions(batch(0));
  // The engine learns c-1 is gone before this manager hears of it (another instance's unlink).
  await writer.onSessionLinked("s", "c-2");
  await manager.onActions(batch(1));
  expect(writer.routed.at(-1)).toEqual({ sessionId: "s", conversationId: null });
  await vi.waitFor(() => expect(writer.notesIn("c-2").map((n) => n.body).join("\n")).toMatch(/a1/));
  expect(writer.notesIn("c-1").map((n) => n.body).join("\n")).not.toMatch(/a1/);
});

it("a link the writer failed to record is not remembered: the next batch reads the state and makes it", async () => {
  const { manager, writer } = open();
  await manager.onActions(batch(0)); // remembered as not linked
  const link = writer.onSessionLinked.bind(writer);
  writer.onSessionLinked = () => Promise.reject(new Error("store down"));
  await expect(manager.onChatbotEvent("s", "c-1")).rejects.toThrow(/store down/);
  writer.onSessionLinked = link;
  // The state holds the link; the writer does not: the batch names it, and the write links.
  await manager.onActions(batch(1));
  expect(writer.routed.at(-1)).toEqual({ sessionId: "s", conversationId: "c-1" });
  await vi.waitFor(() => expect(writer.notesIn("c-1").map((n) => n.body).join("\n")).toMatch(/a0[\s\S]*a1/));
});

describe("stateCacheMs across instances sharing Redis", () => {
  let admin: RedisConnection;
  beforeAll(async () => {
    admin = await connectTestRedis();
  });
  afterAll(async () => {
    await admin.close();
  });

  it("a batch routed on an older read still reaches the conversation another instance linked", async () => {
    const prefix = uniquePrefix("state-cache");
    closing.push(() => deleteByPrefix(admin, prefix));
    const instance = () => {
      const redis: RedisBackends = redisBackends({ keyPrefix: prefix });
      const writer = new RecordingChatbotWriter({ productId: "test", logger: {}, postLinkDebounceMs: 1, delivery: redis.delivery });
      const manager = new AutoplayChatbotManager({ writer, sessionStore: redis.sessionStore, linkStore: redis.linkStore, stateCacheMs: 60_000 });
      closing.push(() => redis.close(), () => manager.close());
      return { manager, writer };
    };
    const a = instance();
    const b = instance();
    await b.manager.onActions(batch(0)); // b now remembers the session as not linked
    await a.manager.onChatbotEvent("s", "c-shared");
    // Reported as the engine routed it, not as b last read it.
    expect(await b.manager.onActions(batch(1))).toMatchObject({ conversationId: "c-shared" });
    await vi.waitFor(() => expect([...a.writer.notesIn("c-shared"), ...b.writer.notesIn("c-shared")].map((n) => n.body).join("\n")).toMatch(/a0[\s\S]*a1/), { timeout: 5_000 });
  });
});
