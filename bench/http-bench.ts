/**
 * `npm run bench:http`: load on POST /events from a second process, on loopback, for each
 * configuration in turn in one run: the floor (a bare node:http server that parses the body),
 * the bridge in memory, the bridge with Redis. Prints one JSON line per configuration, then one
 * with the ratios the project holds itself to. Never fails a test run.
 *
 * A calibration line runs the floor with 10 µs of busy work per request: on a small machine the
 * load generator shares the cores, and that alone can cost the floor a third of its rate.
 *
 * The load generator is wrk (bench/http-load.lua) where installed (Debian: apt-get install wrk),
 * else bench/http-client.ts. With `--scaling`, the bridge configurations also run at 1k, 10k and
 * 100k sessions, and docs/performance-scaling.svg is written from the figures.
 *
 * With BENCH_HTTP_ROUNDS above 1, the configurations run that many times in turn (floor, memory,
 * Redis, floor, …), with a ratios line per round and a last line giving each ratio's range over
 * the rounds: on a machine whose speed drifts, rounds show how far one run's ratios can be trusted.
 *
 * Environment: BENCH_HTTP_SECONDS (15), BENCH_HTTP_CONNECTIONS (32), BENCH_HTTP_SESSIONS (1000),
 * BENCH_HTTP_ROUNDS (1), REDIS_URL (redis://127.0.0.1:6379), BENCH_HTTP_NODE_OPTIONS (given to
 * the bridge, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseWrk, type WrkFigures } from "./http-wrk.js";
import { scalingSvg, type ScalingPoint } from "./scaling-svg.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 15);
const connections = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 32);
const sessions = Number(process.env.BENCH_HTTP_SESSIONS ?? 1000);
const rounds = Math.max(1, Math.floor(Number(process.env.BENCH_HTTP_ROUNDS ?? 1)));
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const port = 18_900 + Math.floor(Math.random() * 500);
/** FastAPI + uvicorn + the reference Python writer, in memory, on this machine (wrk -t1 -c32, 1,000 sessions): 4.0–4.1k req/s. */
const COMPARISON_REQ_PER_SEC = 4_100;
/**
 * The floor's rate in the run that measured the comparison. The comparison cannot be re-run here
 * (the reference SDK is not in this repository), and this machine's speed drifts severalfold
 * from day to day, so the comparison is also taken relative to the floor of the same run.
 */
const COMPARISON_FLOOR_REQ_PER_SEC = 31_900;

/** The calibration line's work per request, in µs: how much a little work costs against the floor on this machine. */
const CALIBRATION_US = 10;

/** What one configuration measured: the load generator's figures, and the server's. */
export interface LoadFigures extends WrkFigures {
  configuration: string;
  sessions: number;
  /** Redis commands the bridge sent per request (its background delivery work included). */
  redisCommandsPerRequest?: number;
  /** The bridge's event-loop delay p99 (prom-client's `nodejs_eventloop_lag_p99_seconds`), in ms. */
  eventLoopDelayP99Ms?: number;
  /** The server's resident memory after the load, in MiB. */
  rssMiB: number;
  /**
   * The server's CPU time (user + system) per request during the load, in µs: steadier than
   * req/s on a machine whose speed drifts, since it does not depend on how the load generator
   * and the server share the cores.
   */
  cpuUsPerRequest: number;
  /** Which round measured it (with BENCH_HTTP_ROUNDS above 1). */
  round?: number;
}

const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`server at ${url} never became healthy`);
}

/** A file of the process's `/proc` directory; undefined where there is none (not Linux, or the process is gone). */
function procFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, "utf8");
  } catch {
    return undefined;
  }
}

/** The process's resident memory (NaN without `/proc`), in MiB. */
function rssMiB(pid: number): number {
  const status = procFile(pid, "status");
  return Number(/VmRSS:\s+(\d+)/.exec(status ?? "")?.[1] ?? Number.NaN) / 1024;
}

/** The process's CPU time so far, user + system (NaN without `/proc`), in µs. */
function cpuUs(pid: number): number {
  const stat = procFile(pid, "stat");
  if (stat === undefined) return Number.NaN;
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1e6;
}

/** Linux's USER_HZ, the unit of /proc's CPU times. */
const CLOCK_TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim() || 100);

/** The bridge's metrics text ("" for the floor, which has none). */
async function metricsText(url: string): Promise<string> {
  // A kept-alive connection the server closed while the load ran fails once: try again.
  let text = "";
  for (let attempt = 0; attempt < 3 && text === ""; attempt++) text = await fetch(`${url}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "");
  return text;
}

function metric(text: string, name: string): number | undefined {
  const value = new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** Runs the load generator for `duration` seconds against `url`. */
function load(url: string, duration: number, sessionCount: number): WrkFigures {
  if (hasWrk) {
    const run = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, "--latency", "-s", join(root, "bench", "http-load.lua"), url, "--", String(sessionCount)], { encoding: "utf8" });
    return parseWrk(run.stdout);
  }
  const run = spawnSync(process.execPath, [join(here, "http-client.js"), url, String(duration), String(connections), String(sessionCount)], { encoding: "utf8" });
  return JSON.parse(run.stdout.trim()) as WrkFigures;
}

interface Configuration {
  name: string;
  command: string[];
  env: Record<string, string>;
  bridge: boolean;
}

function configurations(prefix: string): Configuration[] {
  const bridge = [join(root, "dist", "cli", "main.js"), "serve"];
  const bridgeEnv = { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "error", NODE_OPTIONS: process.env.BENCH_HTTP_NODE_OPTIONS ?? "" };
  return [
    { name: "floor", command: [join(here, "http-floor.js"), String(port)], env: {}, bridge: false },
    { name: `floor+${CALIBRATION_US}us`, command: [join(here, "http-floor.js"), String(port), String(CALIBRATION_US)], env: {}, bridge: false },
    { name: "memory", command: bridge, env: bridgeEnv, bridge: true },
    { name: "redis", command: bridge, env: { ...bridgeEnv, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix }, bridge: true },
  ];
}

async function measure(config: Configuration, sessionCount: number): Promise<LoadFigures> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...config.env };
  if (config.env.REDIS_URL === undefined) delete env.REDIS_URL;
  const child = spawn(process.execPath, config.command, { env, stdio: ["ignore", "pipe", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  try {
    if (config.bridge) await waitForHealth(url, child);
    else await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
    load(url, 2, sessionCount); // warm-up: JIT, connections, Redis scripts
    const before = metric(await metricsText(url), "bridge_redis_commands_total");
    const cpuBefore = cpuUs(child.pid as number);
    const figures = load(url, seconds, sessionCount);
    const cpuUsPerRequest = (cpuUs(child.pid as number) - cpuBefore) / Math.max(1, figures.requests);
    const text = await metricsText(url);
    const after = metric(text, "bridge_redis_commands_total");
    const result: LoadFigures = { configuration: config.name, sessions: sessionCount, ...figures, rssMiB: rssMiB(child.pid as number), cpuUsPerRequest };
    const loopDelay = metric(text, "nodejs_eventloop_lag_p99_seconds");
    if (loopDelay !== undefined) result.eventLoopDelayP99Ms = loopDelay * 1000;
    if (before !== undefined && after !== undefined) result.redisCommandsPerRequest = (after - before) / Math.max(1, figures.requests);
    return result;
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

function rounded(figures: LoadFigures): Record<string, number | string> {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, typeof v === "number" ? Number(v.toFixed(v < 10 ? 3 : 1)) : v]));
}

async function cleanRedis(prefix: string): Promise<void> {
  const { createClient } = await import("@redis/client");
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
  } finally {
    client.destroy();
  }
}

async function redisReachable(): Promise<boolean> {
  const { createClient } = await import("@redis/client");
  const client = createClient({ url: redisUrl, socket: { reconnectStrategy: false, connectTimeout: 1_000 } });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** What every ratios line says beside its figures. */
const RATIO_NOTES = {
  targets: "memoryVsFloorReqPerSec >= 0.7, redisVsMemoryP99 <= 2, redisVsComparisonAtFloorReqPerSec >= 2, redisCommandsPerRequest <= 2",
  comparison: `${COMPARISON_REQ_PER_SEC} req/s, measured when the floor ran at ${COMPARISON_FLOOR_REQ_PER_SEC}: redisVsComparisonReqPerSec takes it as is, redisVsComparisonAtFloorReqPerSec relative to this run's floor`,
  // The Node client is slower than the servers it loads: its ratios say little.
  loadGenerator: hasWrk ? "wrk" : "node client (install wrk for meaningful ratios)",
};

/** The ratios the project holds itself to, from one round's figures (undefined without the floor and the in-memory bridge). */
function ratiosOf(results: Map<string, LoadFigures>): Record<string, number> | undefined {
  const floor = results.get("floor");
  const memory = results.get("memory");
  const redis = results.get("redis");
  if (floor === undefined || memory === undefined) return undefined;
  const ratios: Record<string, number> = {
    memoryVsFloorReqPerSec: memory.reqPerSec / floor.reqPerSec,
    // What the load costs the server, whatever the load generator's share of the cores.
    memoryVsFloorCpuPerRequest: memory.cpuUsPerRequest / floor.cpuUsPerRequest,
  };
  const calibration = results.get(`floor+${CALIBRATION_US}us`);
  if (calibration !== undefined) ratios[`floorPlus${CALIBRATION_US}usVsFloorReqPerSec`] = calibration.reqPerSec / floor.reqPerSec;
  if (redis !== undefined) {
    ratios.redisVsMemoryP99 = redis.p99Ms / memory.p99Ms;
    ratios.redisVsComparisonReqPerSec = redis.reqPerSec / COMPARISON_REQ_PER_SEC;
    ratios.redisVsComparisonAtFloorReqPerSec = redis.reqPerSec / floor.reqPerSec / (COMPARISON_REQ_PER_SEC / COMPARISON_FLOOR_REQ_PER_SEC);
    ratios.redisCommandsPerRequest = redis.redisCommandsPerRequest ?? Number.NaN;
  }
  return ratios;
}

function fixed(ratios: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, Number(v.toFixed(3))]));
}

async function main(): Promise<void> {
  const scaling = process.argv.includes("--scaling");
  const prefix = `bench-http-${process.pid}:`;
  const withRedis = await redisReachable();
  console.error(`bench:http: ${hasWrk ? "wrk -t1" : "node client"} -c${connections}, ${seconds} s per configuration, ${sessions} sessions, ${rounds} round(s), node ${process.version}${withRedis ? "" : `; no Redis at ${redisUrl}: its configuration is skipped`}`);
  const perRound: Array<Record<string, number>> = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      const results = new Map<string, LoadFigures>();
      for (const config of configurations(prefix)) {
        if (config.name === "redis" && !withRedis) continue;
        const figures = await measure(config, sessions);
        results.set(config.name, figures);
        console.log(JSON.stringify(rounded(rounds > 1 ? { ...figures, round: r } : figures)));
      }
      const ratios = ratiosOf(results);
      if (ratios === undefined) continue;
      perRound.push(ratios);
      console.log(JSON.stringify({ configuration: "ratios", ...(rounds > 1 ? { round: r } : {}), ...fixed(ratios), ...RATIO_NOTES }));
    }
    if (perRound.length > 1) {
      const ranges = Object.fromEntries(Object.keys(perRound[0] ?? {}).map((k) => {
        const values = perRound.map((ratios) => ratios[k] ?? Number.NaN);
        return [k, `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`];
      }));
      console.log(JSON.stringify({ configuration: "ratios over rounds", rounds: perRound.length, ...ranges }));
    }
    if (scaling) {
      const points: ScalingPoint[] = [];
      for (const config of configurations(prefix).filter((c) => c.bridge && (c.name !== "redis" || withRedis))) {
        for (const count of [1_000, 10_000, 100_000]) {
          const figures = await measure(config, count);
          console.log(JSON.stringify(rounded({ ...figures, configuration: `${config.name}-scaling` })));
          points.push({ configuration: config.name, sessions: count, reqPerSec: figures.reqPerSec, rssMiB: figures.rssMiB, p99Ms: figures.p99Ms });
          if (config.name === "redis") await cleanRedis(prefix);
        }
      }
      const file = join(root, "docs", "performance-scaling.svg");
      writeFileSync(file, scalingSvg(points, `${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${hasWrk ? "wrk -t1" : "node client"} -c${connections}, ${seconds} s per point`));
      console.error(`bench:http: wrote ${file}`);
    }
  } finally {
    if (withRedis) await cleanRedis(prefix);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
