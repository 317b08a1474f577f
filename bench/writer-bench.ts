/**
 * Writer benchmarks (`npm run bench`). Prints figures; never fails a test run.
 *
 *   ingest    10,000 sessions × 50 actions in bursts of 1–5, half linked part-way, through the
 *             writer with an instant in-memory platform: actions/s ingested (no parsing), notes.
 *             Beside it, in the same process, two calibration rates over the same batches: the
 *             loop alone (a session lookup and an awaited promise per batch: what any writer
 *             pays here) and the dedupe identity alone (hashing each action's content, which
 *             both engines must do and which is fixed across versions): ceilings for the writer
 *             on this machine today, which drifts severalfold from day to day.
 *   memory    the same actions all buffered pre-link: resident bytes per buffered action.
 *   lateness  1,000 linked sessions bursting concurrently in real time (150 ms debounce): how
 *             late each note is beyond the end of its debounce window (p50/p99/max).
 *
 * Each scenario runs in its own child process so memory figures do not mix.
 */
import { spawnSync } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BaseChatbotWriter, type ChatbotWriterOptions, type NoteAction, type PostContext } from "../src/index.js";
import { writeDedupeHashes } from "../src/writer/action-identity.js";
import { generateWorkload, percentile, seededRandom, streamWorkload } from "./workload.js";

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const ACTIONS_PER_SESSION = Number(process.env.BENCH_ACTIONS ?? 50);
const T0 = 1_718_000_000;

/** A platform that accepts every note at once. */
class InstantWriter extends BaseChatbotWriter {
  notes = 0;
  onPost: ((sessionId: string) => void) | undefined;

  constructor(options: Partial<ChatbotWriterOptions> = {}) {
    super({ productId: "bench", logger: {}, ...options });
  }

  protected override async postNote(_conversationId: string, _body: string, context: PostContext): Promise<string | null> {
    this.notes++;
    this.onPost?.(context.sessionId);
    return null;
  }

  protected override async redactPart(): Promise<void> {}
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function ingest(): Promise<Record<string, number>> {
  const workload = generateWorkload(SESSIONS, ACTIONS_PER_SESSION, T0);
  const total = workload.reduce((n, b) => n + b.actions.length, 0);
  const rates: number[] = [];
  let notes = 0;
  for (let run = 0; run < 3; run++) {
    const writer = new InstantWriter({ now: () => (T0 + 30) * 1000 });
    gc();
    const started = performance.now();
    for (const batch of workload) {
      if (batch.linkBefore) await writer.onSessionLinked(batch.sessionId, `conv-${batch.sessionId}`);
      await writer.writeActions(null, batch.sessionId, batch.actions);
    }
    const elapsed = performance.now() - started;
    rates.push(total / (elapsed / 1000));
    await writer.flush();
    await writer.onIdle();
    notes = writer.notes;
    await writer.close();
  }
  return {
    actions: total,
    batches: workload.length,
    actionsPerSecondMedian: percentile(rates, 50),
    actionsPerSecondBest: Math.max(...rates),
    notes,
    loopOnlyActionsPerSecond: await calibrate(workload, total, loopOnly),
    identityOnlyActionsPerSecond: await calibrate(workload, total, identityOnly),
  };
}

type Workload = ReturnType<typeof generateWorkload>;

/** The median rate of `run` over the workload, 3 runs. */
async function calibrate(workload: Workload, total: number, run: (workload: Workload) => Promise<number>): Promise<number> {
  const rates: number[] = [];
  let sink = 0;
  for (let i = 0; i < 3; i++) {
    gc();
    const started = performance.now();
    sink += await run(workload);
    rates.push(total / ((performance.now() - started) / 1000));
  }
  if (Number.isNaN(sink)) console.error("unreachable: keeps the work from being optimised away");
  return percentile(rates, 50);
}

/** The bench loop with nothing behind it: a session lookup and an awaited outcome per batch. */
async function loopOnly(workload: Workload): Promise<number> {
  const sessions = new Map<string, { actions: number }>();
  for (const batch of workload) {
    let s = sessions.get(batch.sessionId);
    if (s === undefined) sessions.set(batch.sessionId, (s = { actions: 0 }));
    s.actions += (await Promise.resolve({ accepted: batch.actions.length })).accepted;
  }
  return sessions.size;
}

/** The dedupe ids of every batch, nothing else. */
async function identityOnly(workload: Workload): Promise<number> {
  const ids = new Float64Array(workload.reduce((n, b) => Math.max(n, b.actions.length), 0));
  let sink = 0;
  for (const batch of workload) {
    writeDedupeHashes(batch.actions, ids);
    sink += ids[0] as number;
  }
  return sink;
}

async function memory(): Promise<Record<string, number>> {
  const writer = new InstantWriter({ preLinkWindowMs: 3_600_000, now: () => (T0 + 30) * 1000 });
  gc();
  const before = process.memoryUsage();
  let buffered = 0;
  // Batches are parsed one at a time and dropped after the call: the writer keeps what it keeps.
  for (const batch of streamWorkload(SESSIONS, ACTIONS_PER_SESSION, T0)) {
    await writer.writeActions(null, batch.sessionId, batch.actions);
    buffered += batch.actions.length;
  }
  gc();
  gc();
  const after = process.memoryUsage();
  const result = {
    bufferedActions: buffered,
    rssBytesPerAction: (after.rss - before.rss) / buffered,
    heapBytesPerAction: (after.heapUsed - before.heapUsed) / buffered,
    sessions: writer.stats().sessions,
  };
  await writer.close();
  return result;
}

/** A burst of `size` new actions (fresh index and time: the writer drops a replayed batch as a duplicate). */
function freshBatch(size: number, firstIndex: number): NoteAction[] {
  const now = Date.now() / 1000;
  return Array.from({ length: size }, (_, k) => ({ index: firstIndex + k, description: `Clicked "Save" (${k})`, timestamp_start: now }));
}

async function lateness(): Promise<Record<string, number>> {
  const sessions = 1000;
  const debounceMs = 150;
  const durationMs = Number(process.env.BENCH_LATENESS_MS ?? 10_000);
  const writer = new InstantWriter({ postLinkDebounceMs: debounceMs });
  const lastArrival = new Map<string, number>();
  const late: number[] = [];
  writer.onPost = (sessionId) => late.push(performance.now() - ((lastArrival.get(sessionId) ?? 0) + debounceMs));
  const random = seededRandom(7);
  const deadline = performance.now() + durationMs;
  let actions = 0;
  let bursts = 0;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // The event loop's own delay: lateness cannot beat it, so it is printed beside.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();

  async function session(id: string): Promise<void> {
    let index = 0;
    await writer.onSessionLinked(id, `conv-${id}`);
    await sleep(random() * 500);
    while (performance.now() < deadline) {
      const batches = 1 + Math.floor(random() * 5);
      bursts++;
      for (let b = 0; b < batches; b++) {
        const batch = freshBatch(1 + Math.floor(random() * 5), index);
        index += batch.length;
        actions += batch.length;
        lastArrival.set(id, performance.now());
        await writer.writeActions(null, id, batch);
        if (b < batches - 1) await sleep(random() * 40);
      }
      await sleep(debounceMs + 150 + random() * 300);
    }
  }

  await Promise.all(Array.from({ length: sessions }, (_, i) => session(`live-${i}`)));
  loopDelay.disable();
  await writer.flush();
  await writer.onIdle();
  await writer.close();
  return {
    sessions,
    actions,
    bursts,
    notes: writer.notes,
    latenessP50Ms: percentile(late, 50),
    latenessP99Ms: percentile(late, 99),
    latenessMaxMs: percentile(late, 100),
    eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}

const scenarios: Record<string, () => Promise<Record<string, number>>> = { ingest, memory, lateness };

function format(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(value < 10 ? 3 : 1);
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== undefined) {
    const run = scenarios[only];
    if (run === undefined) throw new Error(`unknown scenario ${only}`);
    const figures = await run();
    figures.peakRssMiB = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  console.log(`writer bench: ${SESSIONS} sessions × ${ACTIONS_PER_SESSION} actions, node ${process.version}`);
  for (const name of Object.keys(scenarios)) {
    const child = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), name], { encoding: "utf8" });
    if (child.status !== 0) {
      console.log(`  ${name}: failed\n${child.stderr}`);
      continue;
    }
    const figures = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as Record<string, number>;
    const line = Object.entries(figures).map(([k, v]) => `${k}=${format(v)}`).join("  ");
    console.log(`  ${name.padEnd(9)} ${line}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
