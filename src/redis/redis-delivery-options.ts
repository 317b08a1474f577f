import type { RedisCommands } from "./commands.js";
import type { RedisConnection } from "./connection.js";

/** Options of the Redis delivery engine. */
export interface RedisDeliveryOptions {
  /** Redis URL for a connection this engine creates and closes. @default REDIS_URL or redis://127.0.0.1:6379 */
  url?: string;
  /** A client you own (any `RedisCommands`); not closed by the engine. */
  client?: RedisCommands;
  /** A shared {@link RedisConnection}; not closed by the engine. */
  connection?: RedisConnection;
  /** Prefix of every key. Processes sharing deliveries must use the same one. @default "autoplay:delivery:" */
  keyPrefix?: string;
  /** How long a linked session's delivery keys outlive its last activity, at least (at most a 64th more), in seconds. @default 86_400 */
  ttlSeconds?: number;
  /** How often this process looks for due sessions nobody is handling (crash recovery), in ms. @default 500 */
  pollIntervalMs?: number;
  /** A claim's lease is twice `postTimeoutMs` plus this, in ms; renewed while the call is pending. @default 5_000 */
  leaseMarginMs?: number;
  /**
   * Refuse to work (every call rejects with `RedisEvictionPolicyError`) unless the server's
   * `maxmemory-policy` is `noeviction`; when false, another policy is logged as an error once.
   * @default false
   */
  requireNoEviction?: boolean;
  /** Bound on each Redis command, in ms. @default 2_000 */
  commandTimeoutMs?: number;
}

/** A positive finite number, or a TypeError naming the option. */
export function positive(name: string, value: number): number {
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a positive number, got ${String(value)}`);
  }
  return value;
}
