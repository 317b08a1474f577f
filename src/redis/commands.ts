/**
 * The narrow view of a Redis client this library uses: raw commands and nothing else. Any client
 * that can send a command fits (node-redis's `sendCommand` as is; a small adapter for others).
 * Replies are RESP2-shaped: strings, integers, null, and arrays of those.
 */
export interface RedisCommands {
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
}

/** A Redis failure (unreachable, timed out, script error), always an error, never "not found". */
export class RedisUnavailableError extends Error {
  readonly code = "REDIS_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}
