import { RedisUnavailableError } from "../redis/commands.js";
import { RedisScript } from "../redis/script.js";
import { requireNonEmptyString } from "../session/validation.js";
import { RedisKeyspace, type RedisStoreConnectionOptions } from "./redis-session-state-store.js";
import type { ConversationClaim, ConversationLinkStore } from "./types.js";

/** Options of {@link RedisConversationLinkStore}. */
export interface RedisConversationLinkStoreOptions extends RedisStoreConnectionOptions {
  /** Time to live of a link, in seconds, refreshed when its owner claims it again. @default 86_400 (24 h) */
  ttlSeconds?: number;
  /** Prepended to the conversation id to make its key. @default "autoplay:conversation_link:" */
  keyPrefix?: string;
}

// ARGV: session id, TTL in seconds. Reply: {1, owner} when created, {0, owner} otherwise.
// SET NX and the owner read run as one script, so a racing claim can never see "no owner" after
// another has won, and only the owner's own claim extends the link's life.
const CLAIM_SCRIPT = new RedisScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {1, ARGV[1]} end
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {0, owner}
`);

// ARGV: session id. Deletes the link only if that session owns it; replies 1 if it did. Safe to
// run again after a lost reply (the second run finds nothing to release).
const RELEASE_SCRIPT = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`);

/**
 * A {@link ConversationLinkStore} in Redis (SPEC §6): one string key per conversation,
 * `${keyPrefix}${conversationId}` → session id, with a TTL. `claim` is one atomic script, so of
 * several instances claiming a conversation at once exactly one creates the link. Claims are not
 * retried: a retry after a lost reply would report "created" as "existing". Construction does no I/O.
 */
export class RedisConversationLinkStore implements ConversationLinkStore {
  readonly #keys: RedisKeyspace;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: RedisConversationLinkStoreOptions = {}) {
    this.#keys = new RedisKeyspace("RedisConversationLinkStore", options, "autoplay:conversation_link:");
  }

  /** @throws RedisUnavailableError when Redis fails; never reads a failure as "unknown". */
  async get(conversationId: string): Promise<string | null> {
    this.#keys.assertOpen();
    const owner = await this.#keys.redis.sendCommand(["GET", this.#keys.key("conversationId", conversationId)]);
    if (owner === null || typeof owner === "string") return owner;
    throw new RedisUnavailableError(`unexpected reply to GET: ${typeof owner}`);
  }

  async claim(conversationId: string, sessionId: string): Promise<ConversationClaim> {
    this.#keys.assertOpen();
    const key = this.#keys.key("conversationId", conversationId);
    requireNonEmptyString("sessionId", sessionId);
    const reply = await CLAIM_SCRIPT.run(this.#keys.redis, [key], [sessionId, this.#keys.ttlSeconds]);
    const [created, owner] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if ((created === 0 || created === 1) && typeof owner === "string") return { created: created === 1, owner };
    throw new RedisUnavailableError(`unexpected reply to the link claim script: ${JSON.stringify(reply)}`);
  }

  async delete(conversationId: string): Promise<void> {
    this.#keys.assertOpen();
    await this.#keys.redis.sendCommand(["UNLINK", this.#keys.key("conversationId", conversationId)]);
  }

  async release(conversationId: string, sessionId: string): Promise<boolean> {
    this.#keys.assertOpen();
    const key = this.#keys.key("conversationId", conversationId);
    requireNonEmptyString("sessionId", sessionId);
    const reply = await RELEASE_SCRIPT.run(this.#keys.redis, [key], [sessionId]);
    if (reply === 0 || reply === 1) return reply === 1;
    throw new RedisUnavailableError(`unexpected reply to the link release script: ${JSON.stringify(reply)}`);
  }

  /** Later calls reject; closes the connection only if this store created it. Safe to call twice. */
  async close(): Promise<void> {
    await this.#keys.close();
  }
}
