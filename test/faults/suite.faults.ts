/**
 * The fault suite (`npm run test:faults`): every fault of PLATFORMS.md and the service-boundary
 * items of issue 8, played against the real CLI, local platform stand-ins and a real Redis. One
 * test per table row; the table itself is printed by ./table-reporter.ts.
 * Set FAULTS_ONLY=1a,2b to run some rows.
 */
import { afterAll, describe, it } from "vitest";
import { killAllBridges } from "./harness/bridge.js";
import { runScenario } from "./harness/row.js";
import { SCHEDULE } from "./scenarios/index.js";

const only = process.env.FAULTS_ONLY?.split(",").map((s) => s.trim());

afterAll(() => killAllBridges());

describe.concurrent("faults", () => {
  for (const scenario of SCHEDULE) {
    if (only !== undefined && !only.includes(scenario.id)) continue;
    it(`${scenario.id}: ${scenario.fault}`, async ({ task, expect }) => {
      const row = await runScenario(scenario);
      task.meta.row = row;
      expect(row.failures, `${scenario.id} expected: ${scenario.expected}\nobserved: ${row.observed}`).toEqual([]);
    }, scenario.timeoutMs + 20_000);
  }
});
