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
    // One array, filled in place: this runs for every batch.
    const command = new Array<string>(3 + keys.length + args.length);
    command[0] = "EVALSHA";
    command[1] = this.#sha;
    command[2] = String(keys.length);
    for (let i = 0; i < keys.length; i++) command[3 + i] = keys[i] as string;
    for (let i = 0; i < args.length; i++) command[3 + keys.length + i] = String(args[i]);
    try {
      return await redis.sendCommand(command);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
      command[0] = "EVAL";
      command[1] = this.#source;
      return redis.sendCommand(command);
    }
  }
}
