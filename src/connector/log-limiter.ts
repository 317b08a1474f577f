/**
 * Rate limiting for log lines a hostile or broken connector could repeat thousands of times a
 * second (malformed, oversized or unknown frames, queue drops). The counters in `stats()` stay
 * exact; only the log is thinned.
 */

/** How often one kind of line may be written, in ms. */
export const LOG_INTERVAL_MS = 10_000;

/**
 * At most one line per key per interval. The first line of a key goes out at once; a line that
 * goes out after others were held back learns how many.
 */
export class LogLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  // Keys are a handful of fixed strings chosen by the caller, so this map stays tiny.
  readonly #keys = new Map<string, { lastMs: number; suppressed: number }>();

  constructor(intervalMs = LOG_INTERVAL_MS, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** `undefined` when this line must be skipped; otherwise how many lines of `key` were skipped since the last one written. */
  take(key: string): number | undefined {
    const now = this.#now();
    const state = this.#keys.get(key);
    if (state === undefined) {
      this.#keys.set(key, { lastMs: now, suppressed: 0 });
      return 0;
    }
    if (now - state.lastMs < this.#intervalMs) {
      state.suppressed++;
      return undefined;
    }
    const suppressed = state.suppressed;
    state.lastMs = now;
    state.suppressed = 0;
    return suppressed;
  }
}
