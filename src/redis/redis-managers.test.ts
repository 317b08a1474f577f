import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import type { SlimAction } from "../payloads/types.js";
import { RedisConversationLinkStore } from "../stores/redis-conversation-link-store.js";
import { RedisSessionStateStore } from "../stores/redis-session-state-store.js";
import { BaseChatbotWriter, type PostContext } from "../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../writer/options.js";
import { slim } from "../writer/test-support/actions.js";
import { RedisConnection } from "./connection.js";
import { redisBackends } from "./redis-backends.js";
import { redisDelivery } from "./redis-delivery.js";

/** One platform seen by several writers: records notes and how many posts overlap per session. */
class SharedPlatform {
  readonly notes: Array<{ conversationId: string; sessionId: string; body: string }> = [];
  readonly #inFlight = new Map<string, number>();
  maxConcurrentPerSession = 0;

  async post(conversationId: string, body: string, sessionId: string): Promise<string> {
    const n = (this.#inFlight.get(sessionId) ?? 0) + 1;
    this.#inFlight.set(sessionId, n);
    this.maxConcurrentPerSession = Math.max(this.maxConcurrentPerSession, n);
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
    this.#inFlight.set(sessionId, n - 1);
    this.notes.push({ conversationId, sessionId, body });
    return `note-${this.notes.length}`;
  }
}

class PlatformWriter extends BaseChatbotWriter {
  readonly #platform: SharedPlatform;

  constructor(platform: SharedPlatform, options: Partial<ChatbotWriterOptions>) {
    super({ productId: "test", logger: {}, ...options });
    this.#platform = platform;
  }

  protected override postNote(conversationId: string, body: string, context: PostContext): Promise<string> {
    return this.#platform.post(conversationId, body, context.sessionId);
  }

  protected override async redactPart(): Promise<void> {}
}

const T0 = Math.floor(Date.now() / 1000);
const SESSIONS = 12;
let admin: RedisConnection;
const prefix = uniquePrefix("managers");

beforeAll(async () => {
  admin = await connectTestRedis();
});

afterAll(async () => {
  await deleteByPrefix(admin, prefix);
  await admin.close();
});

function redisManager(platform: SharedPlatform, connection: RedisConnection): AutoplayChatbotManager {
  const writer = new PlatformWriter(platform, {
    postLinkDebounceMs: 150,
    maxWaitMs: 5000,
    delivery: redisDelivery({ connection, keyPrefix: `${prefix}delivery:`, pollIntervalMs: 50 }),
  });
  return new AutoplayChatbotManager({
    writer,
    sessionStore: new RedisSessionStateStore({ connection, keyPrefix: `${prefix}state:` }),
    linkStore: new RedisConversationLinkStore({ connection, keyPrefix: `${prefix}link:` }),
  });
}

function payload(sessionId: string, actions: SlimAction[]) {
  return { type: "actions", product_id: "p", session_id: sessionId, actions };
}

/** The same traffic for every session: 3 pre-link batches, the link, a 4-batch burst. */
async function drive(pick: (turn: number) => AutoplayChatbotManager): Promise<void> {
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, s) => {
      const sid = `s${s}`;
      let index = 0;
      let turn = s;
      const batch = (n: number, offset: number) => Array.from({ length: n }, () => slim(`${sid} action ${index}`, T0 + offset + index * 0.5, index++));
      for (let b = 0; b < 3; b++) await pick(turn++).onActions(payload(sid, batch(2, 0)));
      expect(await pick(turn++).onChatbotEvent(sid, `conv-${s}`)).toMatchObject({ status: "linked" });
      for (let b = 0; b < 4; b++) await pick(turn++).onActions(payload(sid, batch(3, 20)));
    }),
  );
}

function sorted(notes: SharedPlatform["notes"]): string[] {
  return notes.map((n) => `${n.conversationId}\n${n.body}`).sort();
}

describe("several managers sharing Redis", () => {
  it("post the same notes as one manager would, never two posts at once for a session", async () => {
    const single = new SharedPlatform();
    const reference = new AutoplayChatbotManager({ writer: new PlatformWriter(single, { postLinkDebounceMs: 150, maxWaitMs: 5000 }) });
    await drive(() => reference);
    await vi.waitFor(() => expect(single.notes).toHaveLength(SESSIONS * 2), { timeout: 5000 });
    await reference.close();

    const shared = new SharedPlatform();
    const connections = [new RedisConnection(), new RedisConnection()];
    const managers = connections.map((c) => redisManager(shared, c));
    await drive((turn) => managers[turn % 2] as AutoplayChatbotManager);
    await vi.waitFor(() => expect(shared.notes.length).toBeGreaterThanOrEqual(SESSIONS * 2), { timeout: 8000 });
    await new Promise((r) => setTimeout(r, 300)); // nothing more may arrive
    await Promise.all(managers.map((m) => m.close()));

    expect(sorted(shared.notes)).toEqual(sorted(single.notes));
    expect(shared.maxConcurrentPerSession).toBe(1);
    await Promise.all(connections.map((c) => c.close()));
  }, 30_000);

  it("keeps delivering a linked session to its conversation after a restart, without a new chatbot event", async () => {
    const platform = new SharedPlatform();
    const first = new RedisConnection();
    const before = redisManager(platform, first);
    await before.onActions(payload("restart", [slim("before", T0, 0)]));
    await before.onChatbotEvent("restart", "conv-restart");
    await vi.waitFor(() => expect(platform.notes).toHaveLength(1));
    await before.close();
    await first.close();

    const second = new RedisConnection();
    const after = redisManager(platform, second);
    expect((await after.getState("restart"))?.conversationId).toBe("conv-restart");
    await after.onActions(payload("restart", [slim("after", T0 + 1, 1)]));
    await vi.waitFor(() => expect(platform.notes).toHaveLength(2));
    expect(platform.notes.map((n) => n.conversationId)).toEqual(["conv-restart", "conv-restart"]);
    expect(await after.writer.getPartIds("restart")).toEqual(["note-1", "note-2"]);
    await after.close();
    await second.close();
  });

  it("runs on redisBackends(): one connection, the SPEC's key layout under the prefix", async () => {
    const redis = redisBackends({ keyPrefix: `${prefix}all:`, delivery: { pollIntervalMs: 50 } });
    const platform = new SharedPlatform();
    const manager = new AutoplayChatbotManager({
      writer: new PlatformWriter(platform, { postLinkDebounceMs: 20, delivery: redis.delivery }),
      sessionStore: redis.sessionStore,
      linkStore: redis.linkStore,
    });
    await manager.onActions(payload("kb", [slim("hello", T0, 0)]));
    await manager.onChatbotEvent("kb", "conv-kb");
    await vi.waitFor(() => expect(platform.notes).toHaveLength(1));
    await manager.close();
    expect(await admin.sendCommand(["EXISTS", `${prefix}all:session_state:kb`, `${prefix}all:conversation_link:conv-kb`])).toBe(2);
    expect(Number(await admin.sendCommand(["TTL", `${prefix}all:session_state:kb`]))).toBeGreaterThan(86_000);
    await redis.close();
  });
});
