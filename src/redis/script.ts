import { createHash } from "node:crypto";
import type { RedisCommands } from "./commands.js";

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it
 * (first use, or after a Redis restart flushed the script cache). One round trip in steady state.
 */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  /** The script's SHA1, as EVALSHA names it. */
  get sha(): string {
    return this.#sha;
  }

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: RedisCommands, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await redis.sendCommand(["EVALSHA", this.#sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
      return redis.sendCommand(["EVAL", this.#source, ...tail]);
    }
  }
}
