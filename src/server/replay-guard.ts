import type { RedisCommands } from "../redis/commands.js";

/**
 * Remembers which deliveries (webhook notification ids, connector payload digests) were already
 * processed, so a repeat is acknowledged without being processed twice. `claim` is atomic: of two
 * concurrent deliveries of the same key (two instances sharing Redis), exactly one gets true.
 * A failed processing calls `release`, so the sender's retry is processed.
 */
export interface ReplayGuard {
  claim(key: string): Promise<boolean>;
  release(key: string): Promise<void>;
}

/** One process's memory: bounded by `maxEntries` (oldest forgotten first) and by `ttlMs`. */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  constructor(
    readonly ttlMs = 3_600_000,
    readonly maxEntries = 100_000,
    readonly now: () => number = Date.now,
  ) {}

  async claim(key: string): Promise<boolean> {
    const now = this.now();
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + this.ttlMs);
    // Map iteration is insertion order: the first entries are the oldest.
    for (const [oldest, expiry] of this.#seen) {
      if (this.#seen.size <= this.maxEntries && expiry > now) break;
      this.#seen.delete(oldest);
    }
    return true;
  }

  async release(key: string): Promise<void> {
    this.#seen.delete(key);
  }
}

/** Shared by every instance through Redis: `SET key 1 NX PX ttl`. */
export class RedisReplayGuard implements ReplayGuard {
  constructor(
    readonly redis: RedisCommands,
    readonly keyPrefix = "autoplay:seen:",
    readonly ttlMs = 3_600_000,
  ) {}

  async claim(key: string): Promise<boolean> {
    const reply = await this.redis.sendCommand(["SET", `${this.keyPrefix}${key}`, "1", "NX", "PX", String(this.ttlMs)]);
    return reply === "OK";
  }

  async release(key: string): Promise<void> {
    await this.redis.sendCommand(["DEL", `${this.keyPrefix}${key}`]);
  }
}
