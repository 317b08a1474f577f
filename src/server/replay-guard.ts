import type { RedisCommands } from "../redis/commands.js";

/** Where a delivery key stands. */
export type ReplayState = "new" | "in-progress" | "done";

/**
 * Remembers which deliveries (webhook notification ids, connector payload digests) were already
 * processed, so a repeat is acknowledged without being processed twice. `begin` is atomic: of two
 * concurrent deliveries of the same key (two instances sharing Redis), exactly one gets "new".
 * A key is marked in progress only briefly (`inProgressTtlMs`), and done only once the work was
 * recorded: a sender retrying a delivery that failed, or that is still running, is never told it
 * was a duplicate, even when the failure also prevented `abandon`.
 */
export interface ReplayGuard {
  begin(key: string): Promise<ReplayState>;
  complete(key: string): Promise<void>;
  abandon(key: string): Promise<void>;
}

/** One process's memory: bounded by `maxEntries` (oldest forgotten first) and by the TTLs. */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #entries = new Map<string, { state: "in-progress" | "done"; until: number }>();
  constructor(
    readonly doneTtlMs = 3_600_000,
    readonly inProgressTtlMs = 30_000,
    readonly maxEntries = 100_000,
    readonly now: () => number = Date.now,
  ) {}

  async begin(key: string): Promise<ReplayState> {
    const now = this.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.until > now) return entry.state;
    this.#set(key, "in-progress", now + this.inProgressTtlMs);
    return "new";
  }

  async complete(key: string): Promise<void> {
    this.#set(key, "done", this.now() + this.doneTtlMs);
  }

  async abandon(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  #set(key: string, state: "in-progress" | "done", until: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { state, until });
    // Map iteration is insertion order: the first entries are the oldest.
    const now = this.now();
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && entry.until > now) break;
      this.#entries.delete(oldest);
    }
  }
}

/** Shared by every instance through Redis: `SET key in-progress NX PX`, then `SET key done PX`. */
export class RedisReplayGuard implements ReplayGuard {
  constructor(
    readonly redis: RedisCommands,
    readonly keyPrefix = "autoplay:seen:",
    readonly doneTtlMs = 3_600_000,
    readonly inProgressTtlMs = 30_000,
  ) {}

  async begin(key: string): Promise<ReplayState> {
    const k = `${this.keyPrefix}${key}`;
    const reply = await this.redis.sendCommand(["SET", k, "in-progress", "NX", "PX", String(this.inProgressTtlMs), "GET"]);
    if (reply === null) return "new";
    return reply === "done" ? "done" : "in-progress";
  }

  async complete(key: string): Promise<void> {
    await this.redis.sendCommand(["SET", `${this.keyPrefix}${key}`, "done", "PX", String(this.doneTtlMs)]);
  }

  async abandon(key: string): Promise<void> {
    await this.redis.sendCommand(["DEL", `${this.keyPrefix}${key}`]);
  }
}
