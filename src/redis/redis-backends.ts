import { RedisConversationLinkStore } from "../stores/redis-conversation-link-store.js";
import { RedisSessionStateStore } from "../stores/redis-session-state-store.js";
import type { DeliveryEngineFactory } from "../writer/delivery-engine.js";
import type { RedisCommands } from "./commands.js";
import { RedisConnection } from "./connection.js";
import { redisDelivery, type RedisDeliveryOptions } from "./redis-delivery.js";

/** Options of {@link redisBackends}. */
export interface RedisBackendsOptions {
  /** @default REDIS_URL or redis://127.0.0.1:6379 */
  url?: string;
  /** A client you own instead of a URL (not closed by `close()`). */
  client?: RedisCommands;
  /** Prefix of every key: `{prefix}session_state:{id}`, `{prefix}conversation_link:{id}`, `{prefix}delivery:…`. @default "autoplay:" */
  keyPrefix?: string;
  /** Time to live of sessions, links and delivery keys, in seconds. @default 86_400 */
  ttlSeconds?: number;
  /** Bound on each Redis command, in ms. @default 2_000 */
  commandTimeoutMs?: number;
  /** Further options of the delivery engine. */
  delivery?: Omit<RedisDeliveryOptions, "url" | "client" | "connection" | "keyPrefix" | "ttlSeconds" | "commandTimeoutMs">;
}

/** Everything a manager needs to keep its state and deliveries in Redis, over one connection. */
export interface RedisBackends {
  readonly connection: RedisConnection;
  /** Pass as the writer's `delivery` option. */
  readonly delivery: DeliveryEngineFactory;
  readonly sessionStore: RedisSessionStateStore;
  readonly linkStore: RedisConversationLinkStore;
  /** Closes the connection (after `manager.close()`); a client you passed stays open. */
  close(): Promise<void>;
}

/**
 * One Redis connection shared by the session store, the link store and the delivery engine:
 *
 * ```ts
 * const redis = redisBackends({ url: process.env.REDIS_URL });
 * const writer = new MyWriter({ productId, delivery: redis.delivery });
 * const manager = new AutoplayChatbotManager({ writer, sessionStore: redis.sessionStore, linkStore: redis.linkStore });
 * // … on shutdown: await manager.close(); await redis.close();
 * ```
 */
export function redisBackends(options: RedisBackendsOptions = {}): RedisBackends {
  const prefix = options.keyPrefix ?? "autoplay:";
  const connection = new RedisConnection({ url: options.url, client: options.client, commandTimeoutMs: options.commandTimeoutMs });
  const ttlSeconds = options.ttlSeconds;
  return {
    connection,
    delivery: redisDelivery({ ...options.delivery, connection, keyPrefix: `${prefix}delivery:`, ttlSeconds }),
    sessionStore: new RedisSessionStateStore({ connection, keyPrefix: `${prefix}session_state:`, ttlSeconds }),
    linkStore: new RedisConversationLinkStore({ connection, keyPrefix: `${prefix}conversation_link:`, ttlSeconds }),
    close: () => connection.close(),
  };
}
