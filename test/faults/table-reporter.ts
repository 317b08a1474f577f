/**
 * Prints the fault table after the run (from each test's `meta.row`) and writes it as Markdown to
 * `FAULTS_REPORT` (default: `<tmpdir>/autoplay-faults-report.md`), with date and machine.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { markdownTable, terminalTable, type Row } from "./harness/row.js";
import { ORDER } from "./scenarios/index.js";

declare module "vitest" {
  interface TaskMeta {
    row?: Row;
  }
}

export default class TableReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows: Row[] = [];
    for (const module of modules) for (const test of module.children.allTests()) if (test.meta().row) rows.push(test.meta().row as Row);
    if (rows.length === 0) return;
    rows.sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
    const failed = rows.filter((r) => !r.pass).length;
    const when = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const machine = `${cpus().length} cores, Node ${process.versions.node}, Redis ${redisVersion()}`;
    const summary = `${rows.length} rows, ${rows.length - failed} pass, ${failed} fail`;
    process.stdout.write(`\nFault table (${when}; ${machine})\n\n${terminalTable(rows)}\n\n${summary}\n`);
    const file = process.env.FAULTS_REPORT ?? join(tmpdir(), "autoplay-faults-report.md");
    writeFileSync(file, `Run ${when} on ${machine}: ${summary}.\n\n${markdownTable(rows)}\n`);
    process.stdout.write(`Markdown table: ${file}\n`);
  }
}

/** The version of the Redis at 127.0.0.1:6379, from `redis-cli INFO server`. */
function redisVersion(): string {
  try {
    const info = execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "INFO", "server"], { encoding: "utf8", timeout: 3000 });
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}
