/**
 * One row of the fault table: what the scenario expected, what it observed, the action counts,
 * and whether every expectation held. A scenario records checks as it goes; the counts' own rules
 * (nothing lost, nothing leaked or misdelivered, no duplicate unless the docs allow one) are
 * added by {@link runScenario}.
 */
import type { Tally } from "./ledger.js";

export interface Row {
  id: string;
  fault: string;
  expected: string;
  observed: string;
  sent: number;
  delivered: number;
  duplicated: number;
  deadLettered: number;
  lost: number;
  /** Why a duplicate is allowed here (at-least-once), or undefined when none is. */
  duplicatesAllowed: string | undefined;
  pass: boolean;
  failures: string[];
  seconds: number;
}

export interface Scenario {
  id: string;
  fault: string;
  expected: string;
  /** Set where the docs allow at-least-once: the reason, shown in the table. */
  duplicatesAllowed?: string;
  /** Upper bound of the scenario, ms (the run fails it past this). */
  timeoutMs: number;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioContext {
  /** Records an expectation; a false `ok` fails the row with `failure`. */
  check(ok: boolean, failure: string): void;
  /** Adds a fact to the "observed" column. */
  observe(text: string): void;
  /** The row's action counts (call once, at the end). */
  counts(tally: Tally): void;
  /** Runs at the end, last registered first, even when the scenario throws. */
  defer(cleanup: () => unknown): void;
}

const CLEANUP_MS = 15_000;

export async function runScenario(scenario: Scenario): Promise<Row> {
  const started = Date.now();
  const failures: string[] = [];
  const observed: string[] = [];
  const cleanups: Array<() => unknown> = [];
  let tally: Tally | undefined;
  const ctx: ScenarioContext = {
    check: (ok, failure) => void (ok || failures.push(failure)),
    observe: (text) => void observed.push(text),
    counts: (t) => void (tally = t),
    defer: (cleanup) => void cleanups.push(cleanup),
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      scenario.run(ctx),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`scenario exceeded ${scenario.timeoutMs} ms`)), scenario.timeoutMs))),
    ]);
  } catch (error) {
    failures.push(`error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300));
  } finally {
    clearTimeout(timer);
    for (const cleanup of cleanups.reverse()) {
      let bound: NodeJS.Timeout | undefined;
      try {
        await Promise.race([Promise.resolve().then(cleanup), new Promise((resolve) => (bound = setTimeout(resolve, CLEANUP_MS)))]);
      } catch {
        // cleanup is best effort; the processes are killed at the end of the run anyway
      } finally {
        clearTimeout(bound);
      }
    }
  }
  const t = tally ?? { sent: 0, delivered: 0, duplicated: 0, deadLettered: 0, lost: 0, misdelivered: 0, leaked: 0, lostTokens: [] };
  if (tally === undefined) failures.push("no counts (the scenario did not get to its tally)");
  else {
    if (t.sent === 0) failures.push("no action was accepted");
    if (t.lost > 0) failures.push(`${t.lost} accepted action(s) lost (neither delivered nor in a dead letter), e.g. ${t.lostTokens.join(" ")}`);
    if (t.misdelivered > 0) failures.push(`${t.misdelivered} action(s) delivered into the wrong conversation`);
    if (t.leaked > 0) failures.push(`${t.leaked} refused action(s) reached the platform`);
    if (t.duplicated > 0 && scenario.duplicatesAllowed === undefined) failures.push(`${t.duplicated} duplicate(s) where none is allowed`);
  }
  return {
    id: scenario.id,
    fault: scenario.fault,
    expected: scenario.expected,
    observed: observed.join("; "),
    sent: t.sent,
    delivered: t.delivered,
    duplicated: t.duplicated,
    deadLettered: t.deadLettered,
    lost: t.lost,
    duplicatesAllowed: scenario.duplicatesAllowed,
    pass: failures.length === 0,
    failures,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The table as Markdown (what docs/reliability.md shows). */
export function markdownTable(rows: readonly Row[]): string {
  const head = "| # | fault | expected behaviour | observed | sent | delivered | duplicated | dead-lettered | lost | result |";
  const rule = "|---|---|---|---|---:|---:|---:|---:|---:|---|";
  const lines = rows.map((r) => {
    const dup = r.duplicated > 0 && r.duplicatesAllowed !== undefined ? `${r.duplicated} (allowed: ${r.duplicatesAllowed})` : String(r.duplicated);
    const result = r.pass ? `pass (${r.seconds} s)` : `**FAIL** (${r.seconds} s): ${r.failures.join("; ")}`;
    return `| ${r.id} | ${cell(r.fault)} | ${cell(r.expected)} | ${cell(r.observed)} | ${r.sent} | ${r.delivered} | ${cell(dup)} | ${r.deadLettered} | ${r.lost} | ${cell(result)} |`;
  });
  return [head, rule, ...lines].join("\n");
}

/** A compact fixed-width table for the terminal. */
export function terminalTable(rows: readonly Row[]): string {
  const cols = ["#", "fault", "sent", "deliv", "dup", "dead", "lost", "result"];
  const data = rows.map((r) => [
    r.id,
    r.fault.length > 46 ? `${r.fault.slice(0, 45)}…` : r.fault,
    String(r.sent),
    String(r.delivered),
    r.duplicated > 0 && r.duplicatesAllowed !== undefined ? `${r.duplicated}*` : String(r.duplicated),
    String(r.deadLettered),
    String(r.lost),
    r.pass ? "pass" : "FAIL",
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...data.map((d) => (d[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ");
  const out = [line(cols), widths.map((w) => "-".repeat(w)).join("  "), ...data.map(line)];
  const details = rows.flatMap((r) => [
    `${r.id} expected: ${r.expected}`,
    `${" ".repeat(r.id.length)} observed: ${r.observed || "-"}`,
    ...(r.pass ? [] : r.failures.map((f) => `${" ".repeat(r.id.length)} FAILED: ${f}`)),
  ]);
  return [...out, "(* = duplicate allowed: at-least-once, documented)", "", ...details].join("\n");
}
