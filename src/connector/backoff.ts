/** Reconnect delays: capped exponential backoff with jitter, and the server's own hints. */

/**
 * How the random part of a backoff is drawn. `full`: anywhere in [0, cap); `equal`: half the cap
 * plus a random half, so a reconnect is never immediate.
 */
export type JitterMode = "full" | "equal";

/** What {@link reconnectDelay} needs. */
export interface BackoffPolicy {
  /** Cap of the first delay, in ms. */
  readonly initialMs: number;
  /** Cap of any computed delay, in ms. */
  readonly maxMs: number;
  readonly jitter: JitterMode;
  /** Random source in [0, 1). */
  readonly random: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry), in whole ms:
 * `initialMs · 2^attempt` capped at `maxMs`, then jittered. `floorMs` (a `Retry-After`) is a lower
 * bound applied after the jitter, so the server's wish is never undercut.
 */
export function reconnectDelay(attempt: number, policy: BackoffPolicy, floorMs = 0): number {
  // Clamp the exponent: 2 ** 2000 is Infinity, and Infinity * 0 would be NaN.
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 52));
  const r = clampUnit(policy.random());
  const jittered = policy.jitter === "full" ? cap * r : cap / 2 + (cap / 2) * r;
  return Math.round(Math.max(jittered, floorMs));
}

// A custom random source returning 1, -3 or NaN must not produce a negative or NaN delay.
function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
}

/**
 * Reads `Retry-After` (delta seconds or an HTTP date) as ms from `nowMs`; `undefined` when absent
 * or unreadable, 0 for a date in the past.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * Waits `ms`, or less when `signal` aborts. The timer stays ref'd on purpose: a stream waiting to
 * reconnect is live work, and the process must not exit under it before `stop()`.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
