/** A deterministic, generated workload for the benchmarks. */
import type { SlimAction } from "../src/index.js";

/** Mulberry32: a tiny seeded PRNG, so every run replays the same workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERBS = ["Clicked", "Opened", "Submitted", "Viewed", "Typed in", "Scrolled"];
const TARGETS = ["Upgrade plan", "Billing settings", "Invite teammate", "Export CSV", "Search box", "Pricing page"];

/** One batch of one session, in arrival order. */
export interface Batch {
  sessionId: string;
  actions: SlimAction[];
  /** Link the session to its conversation right before this batch. */
  linkBefore: boolean;
}

/** A batch before its actions exist: which session, how many actions, whether to link first. */
interface PlannedBatch {
  session: number;
  size: number;
  linkBefore: boolean;
}

/**
 * `sessions` sessions × `actionsPerSession` actions, in bursts of 1–5 actions, sessions
 * interleaved at random; half the sessions are linked part-way through their actions.
 * Batches are materialised in arrival order through JSON, as a parser would make them, so the
 * benchmark measures neither cache misses on a workload laid out session by session nor the
 * flattening of concatenated strings.
 */
export function generateWorkload(sessions: number, actionsPerSession: number, startSeconds: number, seed = 42): Batch[] {
  return [...streamWorkload(sessions, actionsPerSession, startSeconds, seed)];
}

/** The same workload, one batch at a time, so a benchmark can drop each batch after use. */
export function* streamWorkload(sessions: number, actionsPerSession: number, startSeconds: number, seed = 42): Generator<Batch> {
  const random = seededRandom(seed);
  const perSession: PlannedBatch[][] = [];
  for (let s = 0; s < sessions; s++) {
    const planned: PlannedBatch[] = [];
    const linkAt = s % 2 === 0 ? Math.floor(actionsPerSession / 2) : -1;
    let index = 0;
    let linked = false;
    while (index < actionsPerSession) {
      const size = Math.min(actionsPerSession - index, 1 + Math.floor(random() * 5));
      index += size;
      const linkBefore = !linked && linkAt >= 0 && index > linkAt;
      if (linkBefore) linked = true;
      planned.push({ session: s, size, linkBefore });
    }
    perSession.push(planned);
  }
  const nextIndex = new Array<number>(sessions).fill(0);
  for (const plan of interleave(perSession, random)) {
    const first = nextIndex[plan.session] as number;
    nextIndex[plan.session] = first + plan.size;
    const actions: SlimAction[] = [];
    for (let index = first; index < first + plan.size; index++) actions.push(makeAction(plan.session, index, startSeconds, random));
    // Round-trip through JSON so strings are flat and objects shaped as a parser makes them.
    const wire = JSON.parse(JSON.stringify({ session_id: `ph-session-${plan.session}`, actions })) as {
      session_id: string;
      actions: SlimAction[];
    };
    yield { sessionId: wire.session_id, actions: wire.actions, linkBefore: plan.linkBefore };
  }
}

function makeAction(session: number, index: number, startSeconds: number, random: () => number): SlimAction {
  const verb = VERBS[Math.floor(random() * VERBS.length)] ?? "Clicked";
  const target = TARGETS[Math.floor(random() * TARGETS.length)] ?? "Upgrade plan";
  const t = startSeconds + index * 0.4;
  return {
    index,
    type: "click",
    title: target,
    description: `${verb} "${target}" on /app/${session % 97}/page-${index}`,
    canonical_url: `https://app.example.com/app/${session % 97}`,
    raw_url: `https://app.example.com/app/${session % 97}?ref=${index}`,
    timestamp_start: t,
    timestamp_end: t + 0.2,
  };
}

/** Merges per-session batch lists in random order, keeping each session's own order. */
function interleave(perSession: PlannedBatch[][], random: () => number): PlannedBatch[] {
  const out: PlannedBatch[] = [];
  const cursors = perSession.map(() => 0);
  const open = perSession.map((_, i) => i);
  while (open.length > 0) {
    const pick = Math.floor(random() * open.length);
    const s = open[pick] as number;
    const batches = perSession[s] as PlannedBatch[];
    out.push(batches[cursors[s] as number] as PlannedBatch);
    cursors[s] = (cursors[s] as number) + 1;
    if (cursors[s] === batches.length) {
      open[pick] = open[open.length - 1] as number;
      open.pop();
    }
  }
  return out;
}

/** The p-th percentile (0..100) of `values` (sorted in place). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  values.sort((a, b) => a - b);
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[rank] as number;
}
