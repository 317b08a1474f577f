import { invalidOption, requireDurationMs, requireFunction } from "../session/validation.js";

/** Sweeps run at least this often, in ms, so expired entries never linger long. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** Options of {@link ExpiringMap}. */
export interface ExpiringMapOptions {
  /** Time to live of an entry, in ms, counted from its last write (unless `set` is given another). */
  ttlMs: number;
  /** Wall clock, epoch ms. */
  now: () => number;
  /** Most entries held; beyond it the least recently used (read or written) is evicted. @default unbounded */
  maxEntries?: number;
}

interface Entry<V> {
  value: V;
  expiresAtMs: number;
}

/**
 * The in-memory stores' shared backbone: a map whose entries expire `ttlMs` after their last
 * write, optionally capped in count (least recently used evicted first). Expired entries are
 * invisible at once and freed by a sweep: an `unref()`'d interval that runs only while the map
 * holds entries, so an idle process is not kept alive or woken for nothing.
 * Internal; not exported from the package.
 */
export class ExpiringMap<V> {
  /** In least-recently-used-first order: every read or write moves an entry to the end. */
  readonly #entries = new Map<string, Entry<V>>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  #sweeper: NodeJS.Timeout | undefined;
  #sweepEveryMs = 0;
  /** Entries dropped because the count cap was reached. */
  evicted = 0;
  /** Entries dropped because their time to live ran out. */
  expired = 0;

  constructor(options: ExpiringMapOptions) {
    this.#ttlMs = requireDurationMs("ttlMs", options.ttlMs, true);
    this.#now = requireFunction<() => number>("now", options.now);
    const max = options.maxEntries ?? Number.POSITIVE_INFINITY;
    if (!(max === Number.POSITIVE_INFINITY || (Number.isSafeInteger(max) && max > 0))) invalidOption("maxEntries", "a whole number > 0", max);
    this.#maxEntries = max;
  }

  /** Entries held in memory, including expired ones the next sweep frees. */
  get size(): number {
    return this.#entries.size;
  }

  /** The live value for `key` (now the most recently used); an expired entry is removed and reads as undefined. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > this.#now()) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return entry.value;
    }
    this.expired += 1;
    this.delete(key);
    return undefined;
  }

  /** Writes `value`, (re)starting its time to live (`ttlMs`, or the map's), evicting the least recently used beyond the cap. */
  set(key: string, value: V, ttlMs = this.#ttlMs): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs: this.#now() + ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.evicted += 1;
    }
    this.#startSweeper(ttlMs);
  }

  delete(key: string): void {
    this.#entries.delete(key);
    if (this.#entries.size === 0) this.#stopSweeper();
  }

  /** Frees every expired entry; returns how many. */
  pruneExpired(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= now) {
        this.#entries.delete(key);
        removed += 1;
      }
    }
    this.expired += removed;
    if (this.#entries.size === 0) this.#stopSweeper();
    return removed;
  }

  /** Drops every entry and stops the sweep. */
  clear(): void {
    this.#entries.clear();
    this.#stopSweeper();
  }

  #startSweeper(ttlMs: number): void {
    const every = Math.max(1, Math.min(ttlMs, MAX_SWEEP_INTERVAL_MS));
    if (this.#sweeper !== undefined && every >= this.#sweepEveryMs) return;
    this.#stopSweeper();
    this.#sweepEveryMs = every;
    this.#sweeper = setInterval(() => {
      try {
        this.pruneExpired();
      } catch {
        // Only a broken injected clock can throw here; reads report it, a timer must not crash the process.
      }
    }, every);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
