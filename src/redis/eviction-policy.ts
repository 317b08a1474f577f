import type { RedisCommands } from "./commands.js";
import { RedisUnavailableError } from "./commands.js";

/**
 * Reads the server's `maxmemory-policy` from `INFO memory` (allowed on managed Redis services that
 * disable `CONFIG`). Returns null when the server does not say.
 */
export async function readEvictionPolicy(redis: RedisCommands): Promise<string | null> {
  const info = await redis.sendCommand(["INFO", "memory"]);
  const match = /^maxmemory_policy:(\S+)/m.exec(typeof info === "string" ? info : String(info));
  return match?.[1] ?? null;
}

/** Thrown by the Redis delivery engine when `requireNoEviction` is set and the server may evict keys. */
export class RedisEvictionPolicyError extends RedisUnavailableError {
  readonly policy: string | null;

  constructor(policy: string | null) {
    super(
      `refusing to deliver through Redis: maxmemory-policy is ${policy ?? "unknown"}, not noeviction; ` +
        "an evicting Redis drops buffered actions silently (set maxmemory-policy noeviction, or leave requireNoEviction off)",
    );
    this.name = "RedisEvictionPolicyError";
    this.policy = policy;
  }
}

/**
 * The start-time check of the eviction policy, run once before the engine's first command: with
 * anything but `noeviction`, Redis may drop a session's buffers under memory pressure without a
 * trace. It logs an error (or, with `require`, refuses every call with
 * {@link RedisEvictionPolicyError}). An unreachable server is not a verdict: the check runs again
 * on the next call.
 */
export class EvictionPolicyCheck {
  readonly #redis: RedisCommands;
  readonly #require: boolean;
  readonly #warn: (policy: string | null) => void;
  #verdict: Promise<void> | undefined;
  #passed = false;

  constructor(redis: RedisCommands, require: boolean, warn: (policy: string | null) => void) {
    this.#redis = redis;
    this.#require = require;
    this.#warn = warn;
  }

  /** True once the check passed (or warned): callers skip the await on the hot path. */
  get passed(): boolean {
    return this.#passed;
  }

  run(): Promise<void> {
    this.#verdict ??= this.#check().catch((error: unknown) => {
      // A refusal stays cached (until the timer in #check clears it); an outage is no verdict.
      if (error instanceof RedisEvictionPolicyError) throw error;
      this.#verdict = undefined;
      // Redis unreachable: refuse while requiring, else let the caller's own command report it.
      if (this.#require) throw error;
    });
    return this.#verdict;
  }

  async #check(): Promise<void> {
    const policy = await readEvictionPolicy(this.#redis);
    if (policy !== "noeviction") {
      if (this.#require) {
        // Checked again after a while: an operator may fix the setting without a restart.
        setTimeout(() => (this.#verdict = undefined), 30_000).unref();
        throw new RedisEvictionPolicyError(policy);
      }
      this.#warn(policy);
    }
    this.#passed = true;
  }
}
