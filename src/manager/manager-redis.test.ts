import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import type { RedisConnection } from "../redis/connection.js";
import { ConversationEventType } from "../session/conversation-event.js";
import type { SessionState } from "../session/session-state.js";
import { RedisConversationLinkStore } from "../stores/redis-conversation-link-store.js";
import { RedisSessionStateStore } from "../stores/redis-session-state-store.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";
import { UnlinkingWriter } from "./test-support/unlinking-writer.js";

const T0 = Math.floor(Date.now() / 1000);
let admin: RedisConnection;
let prefix: string;
const managers: AutoplayChatbotManager[] = [];

/** A Redis session store whose next save of a state linked to `race` first meets another instance's save. */
class RacingRedisStore extends RedisSessionStateStore {
  race: string | null = null;
  override async save(state: SessionState): Promise<void> {
    if (state.conversationId !== null && state.conversationId === this.race) {
      this.race = null;
      const other = new RedisSessionStateStore({ connection: admin, keyPrefix: `${prefix}state:` });
      const rival = (await other.get(state.sessionId))!;
      rival.metadata.rival = true;
      await other.save(rival);
    }
    return super.save(state);
  }
}

function open(): { manager: AutoplayChatbotManager; writer: UnlinkingWriter; sessionStore: RacingRedisStore } {
  const writer = new UnlinkingWriter({ productId: "test", logger: {}, postLinkDebounceMs: 1 });
  const sessionStore = new RacingRedisStore({ connection: admin, keyPrefix: `${prefix}state:` });
  const linkStore = new RedisConversationLinkStore({ connection: admin, keyPrefix: `${prefix}link:` });
  const manager = new AutoplayChatbotManager({ writer, sessionStore, linkStore });
  managers.push(manager);
  return { manager, writer, sessionStore };
}

beforeAll(async () => {
  admin = await connectTestRedis();
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  await deleteByPrefix(admin, prefix);
});
afterAll(async () => {
  await admin?.close();
});

describe("AutoplayChatbotManager on real Redis stores", () => {
  it("a NEW link that loses a compare-and-set race to another instance still moves the session (#7 b)", async () => {
    prefix = uniquePrefix("manager-race");
    const { manager, writer, sessionStore } = open();
    await manager.onChatbotEvent("s", "c-old");
    sessionStore.race = "c-new";
    expect(await manager.onChatbotEvent("s", "c-new")).toEqual({ status: "linked", event: ConversationEventType.NEW, conversationId: "c-new", changed: true });
    const stored = (await manager.getState("s"))!;
    expect([stored.conversationId, stored.metadata.rival]).toEqual(["c-new", true]);
    expect(await writer.linkedConversation("s")).toBe("c-new");
  });

  it("an `unlinked` event unlinks the stored state and releases the Redis link; a new webhook links again (#7 f)", async () => {
    prefix = uniquePrefix("manager-unlink");
    const { manager, writer } = open();
    await manager.onChatbotEvent("s", "c-1");
    writer.emitUnlinked("s", "c-1");
    const outcome = await manager.onActions({ type: "actions", session_id: "s", actions: [slim("after gone", T0)] });
    expect(outcome.conversationId).toBeNull();
    expect(await admin.sendCommand(["GET", `${prefix}link:c-1`])).toBeNull();
    expect((await manager.getState("s"))?.conversationLinked).toBe(false);
    expect(await manager.onChatbotEvent("s", "c-2")).toMatchObject({ event: ConversationEventType.NEW, conversationId: "c-2" });
    expect(await admin.sendCommand(["GET", `${prefix}link:c-2`])).toBe("s");
  });
});
