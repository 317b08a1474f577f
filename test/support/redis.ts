/**
 * The harness for tests against a real Redis. Redis-backed tests fail, never skip, when Redis is
 * missing: a skipped suite reads as green in CI while testing nothing.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import type { RedisCommands } from "../../src/redis/commands.js";
import { RedisConnection } from "../../src/redis/connection.js";

/** The Redis the tests use: `REDIS_URL`, or a local default. */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

/**
 * A connection (created by the harness; close it in `afterAll`) that has answered a PING.
 * @throws Error saying how to get a Redis, when none answers at `url`.
 */
export async function connectTestRedis(url = redisUrl(), commandTimeoutMs = 2_000): Promise<RedisConnection> {
  const redis = new RedisConnection({ url, commandTimeoutMs });
  try {
    await redis.sendCommand(["PING"]);
    return redis;
  } catch (error) {
    await redis.close();
    throw new Error(
      `Redis-backed tests need Redis at ${url}, and none answered (${(error as Error).message}). ` +
        "Start one with `redis-server --daemonize yes --save '' --appendonly no` " +
        "(Debian: apt-get install redis-server), or set REDIS_URL.",
      { cause: error },
    );
  }
}

/** A key prefix no other test, worker or run shares, e.g. `test:session:4242:9f3a…:`. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${process.pid}:${randomBytes(6).toString("hex")}:`;
}

/** `text` as a SCAN MATCH pattern matching itself literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Removes every key starting with `prefix` (SCAN, never KEYS, then UNLINK); returns how many. */
export async function deleteByPrefix(redis: RedisCommands, prefix: string): Promise<number> {
  if (prefix === "") throw new Error("deleteByPrefix refuses an empty prefix: it would empty the database");
  const match = `${globLiteral(prefix)}*`;
  let cursor = "0";
  let deleted = 0;
  do {
    const reply = (await redis.sendCommand(["SCAN", cursor, "MATCH", match, "COUNT", "500"])) as [string, string[]];
    cursor = reply[0];
    if (reply[1].length > 0) deleted += Number(await redis.sendCommand(["UNLINK", ...reply[1]]));
  } while (cursor !== "0");
  return deleted;
}

/** A `redis://` URL on a local port nothing listens on, for "Redis is down" tests. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not pick a free port");
  return `redis://127.0.0.1:${address.port}`;
}
