/**
 * Redis delivery benchmark (part of `npm run bench`): the writer with `redisDelivery`, in one
 * process and in two processes sharing one Redis. Prints actions/s ingested and Redis round
 * trips per `writeActions`. Needs Redis at REDIS_URL (default 127.0.0.1:6379); without it, it
 * says so and exits 0.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { BaseChatbotWriter, RedisConnection, redisDelivery, type PostContext, type RedisCommands } from "../src/index.js";
import { CLAIM, CONFIRM, LINK, WRITE } from "../src/redis/delivery-scripts.js";
import { deleteKeysUnder } from "./redis-cleanup.js";
import { streamWorkload } from "./workload.js";

const SESSIONS = Number(process.env.BENCH_REDIS_SESSIONS ?? 2_000);
const ACTIONS_PER_SESSION = 50;
const CONCURRENCY = Number(process.env.BENCH_REDIS_CONCURRENCY ?? 64);
const T0 = Math.floor(Date.now() / 1000);
/** Each script by the name EVALSHA and FCALL give it. */
const SCRIPT_NAMES = new Map(
  [WRITE, LINK, CLAIM, CONFIRM].flatMap((s, i) => {
    const name = ["write", "link", "claim", "confirm"][i] as string;
    return [[s.sha, name] as const, [s.functionName ?? s.sha, name] as const];
  }),
);

/** Counts every command sent, by script name. */
class CountingClient implements RedisCommands {
  readonly counts = new Map<string, number>();
  constructor(readonly inner: RedisCommands) {}
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown> {
    const name = args[0] === "EVALSHA" || args[0] === "EVAL" || args[0] === "FCALL" ? (SCRIPT_NAMES.get(args[1] ?? "") ?? "other-script") : (args[0] ?? "?");
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    return this.inner.sendCommand(args, options);
  }
}

class InstantWriter extends BaseChatbotWriter {
  notes = 0;
  protected override async postNote(_c: string, _b: string, _ctx: PostContext): Promise<string | null> {
    this.notes++;
    return null;
  }
  protected override async redactPart(): Promise<void> {}
}

async function child(part: number, parts: number, prefix: string): Promise<void> {
  const connection = new RedisConnection();
  const client = new CountingClient(connection);
  const writer = new InstantWriter({ productId: "bench", logger: {}, delivery: redisDelivery({ client, keyPrefix: prefix, pollIntervalMs: 200 }) });
  const batches = [...streamWorkload(SESSIONS, ACTIONS_PER_SESSION, T0)].filter((b) => Number(b.sessionId.slice(11)) % parts === part);
  // Per-session order matters, sessions are independent: each lane takes a fixed set of sessions.
  const lanes = Array.from({ length: CONCURRENCY }, () => [] as typeof batches);
  for (const b of batches) lanes[Number(b.sessionId.slice(11)) % CONCURRENCY]?.push(b);
  let calls = 0;
  const started = performance.now();
  await Promise.all(
    lanes.map(async (lane) => {
      for (const b of lane) {
        if (b.linkBefore) await writer.onSessionLinked(b.sessionId, `conv-${b.sessionId}`);
        await writer.writeActions(null, b.sessionId, b.actions);
        calls++;
      }
    }),
  );
  const ingestMs = performance.now() - started;
  const hot = (client.counts.get("write") ?? 0) + (client.counts.get("link") ?? 0);
  const links = client.counts.get("link") ?? 0;
  await writer.flush();
  await writer.close();
  await connection.close();
  const actions = batches.reduce((n, b) => n + b.actions.length, 0);
  process.stdout.write(`${JSON.stringify({ actions, writeCalls: calls, links, ingestMs, hotRoundTrips: hot, notes: writer.notes, commands: Object.fromEntries(client.counts) })}\n`);
}

function run(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}") as Record<string, number>) : reject(new Error(`bench child exited ${code}`))));
  });
}

async function cleanup(prefix: string): Promise<void> {
  const redis = new RedisConnection();
  await deleteKeysUnder(redis, prefix);
  await redis.close();
}

async function main(): Promise<void> {
  if (process.argv[2] === "child") return child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] ?? "");
  const probe = new RedisConnection({ commandTimeoutMs: 1000 });
  try {
    await probe.sendCommand(["PING"]);
  } catch (error) {
    console.log(`redis bench: skipped, no Redis at ${probe.url} (${(error as Error).message}); start one with redis-server`);
    return;
  } finally {
    await probe.close();
  }
  console.log(`redis bench: ${SESSIONS} sessions × ${ACTIONS_PER_SESSION} actions, ${CONCURRENCY} concurrent sessions per process`);
  for (const processes of [1, 2]) {
    const prefix = `bench:${randomBytes(4).toString("hex")}:`;
    const results = await Promise.all(Array.from({ length: processes }, (_, i) => run(["child", String(i), String(processes), prefix])));
    await cleanup(prefix);
    const actions = results.reduce((n, r) => n + (r.actions ?? 0), 0);
    const calls = results.reduce((n, r) => n + (r.writeCalls ?? 0) + (r.links ?? 0), 0);
    const hot = results.reduce((n, r) => n + (r.hotRoundTrips ?? 0), 0);
    const ms = Math.max(...results.map((r) => r.ingestMs ?? 0));
    const notes = results.reduce((n, r) => n + (r.notes ?? 0), 0);
    console.log(
      `  ${processes} process${processes > 1 ? "es" : ""}: actions/s=${Math.round(actions / (ms / 1000)).toLocaleString("en-US")}  ` +
        `roundTripsPerWriteActions=${(hot / calls).toFixed(2)}  notes=${notes}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
