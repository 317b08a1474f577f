/** Reads wrk's `--latency` report into figures (requests, req/s, percentiles in ms). */

/** What a load generator reports: `parseWrk` reads it from wrk, bench/http-client.ts prints it. */
export interface WrkFigures {
  requests: number;
  non2xx: number;
  errors: number;
  reqPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? "");
  if (match === null) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Parses wrk's report; a figure wrk did not print is NaN (errors and non-2xx are 0 when absent). */
export function parseWrk(report: string): WrkFigures {
  const percentile = (p: string) => durationMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(report)?.[1]);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  return {
    requests: Number(/(\d+) requests in/.exec(report)?.[1] ?? Number.NaN),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(report)?.[1] ?? 0),
    errors: errors === null ? 0 : errors.slice(1).reduce((n, v) => n + Number(v), 0),
    reqPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(report)?.[1] ?? Number.NaN),
    p50Ms: percentile("50"),
    p90Ms: percentile("90"),
    p99Ms: percentile("99"),
  };
}
