import { createHash } from "node:crypto";
import type { RedisCommands } from "./commands.js";

/**
 * A script in two parts: `chunk`, code that runs once when Redis loads it as a function library
 * (local declarations and helper functions), and `body`, what runs on every call (it may use
 * KEYS and ARGV, and assign the chunk's locals). As a plain script the two run one after the other.
 */
export interface ScriptSource {
  readonly chunk: string;
  readonly body: string;
}

/** Clients whose Redis refused functions (no FUNCTION/FCALL, or an ACL without them): scripts only. */
const scriptsOnly = new WeakSet<RedisCommands>();

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it
 * (first use, or after a Redis restart flushed the script cache). One round trip in steady state.
 *
 * Built from a {@link ScriptSource}, it runs as a Redis function instead (FCALL; Redis 7): its
 * library, named by the script's SHA1 so that versions never replace each other's, is loaded on
 * first use and again after a restart lost it, and its helpers are built once instead of on every
 * call. A Redis that refuses functions gets the same code as a plain script.
 */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;
  readonly #library: string | undefined;
  readonly #function: string | undefined;
  /** The load in flight per client: calls that find the function missing at once share one. */
  readonly #loading = new WeakMap<RedisCommands, Promise<boolean>>();

  /** The script's SHA1, as EVALSHA names it. */
  get sha(): string {
    return this.#sha;
  }

  /** The name of its Redis function (`ap_` and its SHA1), or undefined for a plain script. */
  get functionName(): string | undefined {
    return this.#function;
  }

  constructor(source: string | ScriptSource) {
    this.#source = typeof source === "string" ? source : `${source.chunk}\n\n${source.body}`;
    this.#sha = createHash("sha1").update(this.#source).digest("hex");
    if (typeof source !== "string") {
      this.#function = `ap_${this.#sha}`;
      this.#library = `#!lua name=autoplay_${this.#sha}\n${source.chunk}\n\nredis.register_function('${this.#function}', function(KEYS, ARGV)\n${source.body}\nend)\n`;
    }
  }

  async run(redis: RedisCommands, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    // One array, filled in place: this runs for every batch.
    const command = new Array<string>(3 + keys.length + args.length);
    command[2] = String(keys.length);
    for (let i = 0; i < keys.length; i++) command[3 + i] = keys[i] as string;
    for (let i = 0; i < args.length; i++) command[3 + keys.length + i] = String(args[i]);
    if (this.#function !== undefined && !scriptsOnly.has(redis)) {
      command[0] = "FCALL";
      command[1] = this.#function;
      let load = false;
      try {
        return await redis.sendCommand(command);
      } catch (error) {
        const message = messageOf(error);
        if (message.includes("Function not found")) load = true;
        else if (refusesFunctions(message)) scriptsOnly.add(redis);
        else throw error;
      }
      if (load && (await this.#load(redis))) return redis.sendCommand(command);
    }
    command[0] = "EVALSHA";
    command[1] = this.#sha;
    try {
      return await redis.sendCommand(command);
    } catch (error) {
      if (!messageOf(error).includes("NOSCRIPT")) throw error;
      command[0] = "EVAL";
      command[1] = this.#source;
      return redis.sendCommand(command);
    }
  }

  /**
   * Loads the library, once for all the calls that need it now: after a restart every call in
   * flight finds the function missing, and each load makes Redis compile the library again.
   */
  #load(redis: RedisCommands): Promise<boolean> {
    let loading = this.#loading.get(redis);
    if (loading === undefined) {
      loading = this.#loadLibrary(redis).finally(() => this.#loading.delete(redis));
      this.#loading.set(redis, loading);
    }
    return loading;
  }

  /** Loads the library; false (and scripts from then on) when this Redis refuses functions. */
  async #loadLibrary(redis: RedisCommands): Promise<boolean> {
    try {
      await redis.sendCommand(["FUNCTION", "LOAD", this.#library as string]);
      return true;
    } catch (error) {
      const message = messageOf(error);
      // Another instance (or call) loaded it first.
      if (message.includes("already exists")) return true;
      if (!refusesFunctions(message)) throw error;
      scriptsOnly.add(redis);
      return false;
    }
  }
}

/**
 * An answer that means this Redis (or this user's ACL) has no functions: the command itself is
 * unknown or not permitted. A NOPERM about keys, or an error from inside a function, is not one.
 */
function refusesFunctions(message: string): boolean {
  return /unknown command|unknown subcommand|NOPERM.*'(fcall|function)/i.test(message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
