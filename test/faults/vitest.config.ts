import { defineConfig } from "vitest/config";

// The fault suite: real CLI processes against local stand-ins and a real Redis. Its own config so
// `npm test` does not run it; `npm run test:faults` does (after `npm run build`).
export default defineConfig({
  test: {
    include: ["test/faults/**/*.faults.ts"],
    pool: "forks",
    fileParallelism: false,
    // Scenarios are independent (own stand-ins, processes, key prefixes): a few at a time keeps the
    // whole run near 2-3 minutes on 2 cores without starving the timing-sensitive ones.
    maxConcurrency: Number(process.env.FAULTS_CONCURRENCY ?? 3),
    testTimeout: 150_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/faults/table-reporter.ts"],
  },
});
