/**
 * Redis time per delivery script (part of `npm run bench`): what one WRITE (3 actions, to a linked
 * and to an unlinked session), CLAIM and CONFIRM cost Redis itself (as functions, or scripts where
 * Redis refuses functions), from `INFO commandstats`
 * before and after each step (nothing reset). 1,000 sessions, 20 writes each, 32 calls in flight.
 * Needs Redis at REDIS_URL (default 127.0.0.1:6379); without it, it says so and exits 0.
 */
import { randomBytes } from "node:crypto";
import { RedisConnection, type NoteAction } from "../src/index.js";
import { DeliveryKeys } from "../src/redis/delivery-keys.js";
import { CLAIM, CONFIRM, LINK, WRITE } from "../src/redis/delivery-scripts.js";
import { encodeActions } from "../src/redis/entries.js";
import type { RedisScript } from "../src/redis/script.js";
import { deleteKeysUnder } from "./redis-cleanup.js";

const SESSIONS = 1_000;
const WRITES_PER_SESSION = 20;
const IN_FLIGHT = 32;
const TTL_MS = 86_400_000;

/** Total µs and calls of the commands that run scripts (FCALL, EVALSHA, EVAL) so far. */
async function scriptStats(redis: RedisConnection): Promise<{ usec: number; calls: number }> {
  const info = String(await redis.sendCommand(["INFO", "commandstats"]));
  let usec = 0;
  let calls = 0;
  for (const line of info.split("\n")) {
    if (!/^cmdstat_(fcall|evalsha|eval):/.test(line)) continue;
    usec += Number(/usec=(\d+)/.exec(line)?.[1] ?? 0);
    calls += Number(/calls=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { usec, calls };
}

/** Runs `calls` script calls, IN_FLIGHT at a time, and returns Redis µs per call. */
async function timed(redis: RedisConnection, calls: Array<[RedisScript, string[], (string | number)[]]>): Promise<number> {
  const before = await scriptStats(redis);
  for (let i = 0; i < calls.length; i += IN_FLIGHT) {
    await Promise.all(calls.slice(i, i + IN_FLIGHT).map(([script, keys, args]) => script.run(redis, keys, args)));
  }
  const after = await scriptStats(redis);
  return (after.usec - before.usec) / Math.max(1, after.calls - before.calls);
}

async function main(): Promise<void> {
  const redis = new RedisConnection({ commandTimeoutMs: 5_000 });
  try {
    await redis.sendCommand(["PING"]);
  } catch (error) {
    console.log(`redis script bench: skipped, no Redis at ${redis.url} (${(error as Error).message})`);
    await redis.close();
    return;
  }
  const prefix = `bench:${randomBytes(4).toString("hex")}:`;
  const keys = new DeliveryKeys(prefix);
  let now = Date.now();
  let n = 0;
  const writeArgs = (sid: string, conv: string): (string | number)[] => {
    const args: (string | number)[] = [sid, now, conv, (now - 300_000) / 1000, 2_000, 10_000, TTL_MS, 900_000, 5_000, 300_000];
    const actions = Array.from({ length: 3 }, () => ({ index: n++, type: "click", description: `Clicked the button number ${n} on /app/page`, timestamp_start: Math.floor(now / 1000) }) as NoteAction);
    encodeActions(actions, now / 1000, args);
    return args;
  };
  const sid = (kind: string, i: number) => `${kind}-${i}`;
  for (let i = 0; i < SESSIONS; i++) await LINK.run(redis, keys.session(sid("l", i)), [sid("l", i), now, `conv-${i}`, (now - 300_000) / 1000, 2_000, 10_000, TTL_MS]);
  const writes = (kind: string, conv: (i: number) => string) =>
    Array.from({ length: SESSIONS * WRITES_PER_SESSION }, (_, c): [RedisScript, string[], (string | number)[]] => {
      const i = c % SESSIONS;
      now += 1;
      return [WRITE, keys.session(sid(kind, i)), writeArgs(sid(kind, i), conv(i))];
    });
  const linked = await timed(redis, writes("l", (i) => `conv-${i}`));
  const unlinked = await timed(redis, writes("u", () => ""));
  const claims = Array.from({ length: SESSIONS }, (_, i): [RedisScript, string[], (string | number)[]] => [CLAIM, keys.session(sid("l", i)), [sid("l", i), now, `claim-${i}`, 30_000, 50, 100_000, 2_000, 10_000, 1, TTL_MS]]);
  const claim = await timed(redis, claims);
  const confirms = Array.from({ length: SESSIONS }, (_, i): [RedisScript, string[], (string | number)[]] => [CONFIRM, keys.session(sid("l", i)), [sid("l", i), `claim-${i}`, now, 2_000, 10_000, "", TTL_MS, `conv-${i}`, 0, 0]]);
  const confirm = await timed(redis, confirms);
  await deleteKeysUnder(redis, prefix);
  await redis.close();
  console.log(
    `redis script time (µs of Redis per call): write linked=${linked.toFixed(1)}  write unlinked=${unlinked.toFixed(1)}  ` +
      `claim=${claim.toFixed(1)}  confirm=${confirm.toFixed(1)}  (3 actions a write, ${WRITES_PER_SESSION} writes a session)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
