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

interface GuardEntry {
  state: "in-progress" | "done";
  until: number;
}

/**
 * One process's memory: it remembers at least the last `maxEntries` keys (within their TTLs) and
 * holds at most twice that. Two generations of keys: new keys go to the current one, and when it
 * holds `maxEntries` it becomes the previous one and the older is dropped whole, so the oldest
 * keys are forgotten first and no operation ever walks the entries (a Map walked from its oldest entry after many deletes costs a step per
 * deleted slot: that walk once took half the CPU of a batch).
 */
export class MemoryReplayGuard implements ReplayGuard {
  #current = new Map<string, GuardEntry>();
  #previous = new Map<string, GuardEntry>();
  readonly #generationSize: number;

  constructor(
    readonly doneTtlMs = 3_600_000,
    readonly inProgressTtlMs = 30_000,
    readonly maxEntries = 100_000,
    readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxEntries) && maxEntries >= 1))) {
      throw new TypeError(`Expected \`maxEntries\` to be a whole number >= 1 or Infinity, got ${String(maxEntries)}`);
    }
    this.#generationSize = maxEntries;
  }

  /** Keys held now, expired ones included until their generation is dropped. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  async begin(key: string): Promise<ReplayState> {
    const now = this.now();
    const entry = this.#current.get(key) ?? this.#previous.get(key);
    if (entry !== undefined && entry.until > now) return entry.state;
    this.#put(key, { state: "in-progress", until: now + this.inProgressTtlMs });
    return "new";
  }

  async complete(key: string): Promise<void> {
    this.#put(key, { state: "done", until: this.now() + this.doneTtlMs });
  }

  async abandon(key: string): Promise<void> {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  #put(key: string, entry: GuardEntry): void {
    this.#previous.delete(key);
    this.#current.set(key, entry);
    if (this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
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
