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
  key: string;
  value: V;
  expiresAtMs: number;
  /** Neighbours in least-recently-used order (`older` is toward the head). */
  older: Entry<V> | null;
  newer: Entry<V> | null;
}

/**
 * The in-memory stores' shared backbone: a map whose entries expire `ttlMs` after their last
 * write, optionally capped in count (least recently used evicted first). Expired entries are
 * invisible at once and freed by a sweep: an `unref()`'d interval that runs only while the map
 * holds entries, so an idle process is not kept alive or woken for nothing.
 * Internal; not exported from the package.
 */
export class ExpiringMap<V> {
  readonly #entries = new Map<string, Entry<V>>();
  /**
   * Least recently used first, as a linked list through the entries: a read moves its entry to the
   * end without touching the Map. (Moving by delete-and-set leaves a deleted slot per read, and
   * finding the oldest key then walks them all: at the cap, a step per read since the last rehash.)
   */
  #oldest: Entry<V> | null = null;
  #newest: Entry<V> | null = null;
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
      this.#touch(entry);
      return entry.value;
    }
    this.expired += 1;
    this.delete(key);
    return undefined;
  }

  /** Writes `value`, (re)starting its time to live (`ttlMs`, or the map's), evicting the least recently used beyond the cap. */
  set(key: string, value: V, ttlMs = this.#ttlMs): void {
    const expiresAtMs = this.#now() + ttlMs;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = value;
      entry.expiresAtMs = expiresAtMs;
      this.#touch(entry);
    } else {
      const added: Entry<V> = { key, value, expiresAtMs, older: this.#newest, newer: null };
      if (this.#newest !== null) this.#newest.newer = added;
      else this.#oldest = added;
      this.#newest = added;
      this.#entries.set(key, added);
      while (this.#entries.size > this.#maxEntries && this.#oldest !== null) {
        this.#remove(this.#oldest);
        this.evicted += 1;
      }
    }
    this.#startSweeper(ttlMs);
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(entry);
    if (this.#entries.size === 0) this.#stopSweeper();
  }

  /** Frees every expired entry; returns how many. */
  pruneExpired(): number {
    const now = this.#now();
    let removed = 0;
    for (let entry = this.#oldest; entry !== null; ) {
      const next = entry.newer;
      if (entry.expiresAtMs <= now) {
        this.#remove(entry);
        removed += 1;
      }
      entry = next;
    }
    this.expired += removed;
    if (this.#entries.size === 0) this.#stopSweeper();
    return removed;
  }

  /** Drops every entry and stops the sweep. */
  clear(): void {
    this.#entries.clear();
    this.#oldest = null;
    this.#newest = null;
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

  /** Makes `entry` the most recently used. */
  #touch(entry: Entry<V>): void {
    if (entry === this.#newest) return;
    this.#unlink(entry);
    entry.older = this.#newest;
    entry.newer = null;
    if (this.#newest !== null) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
  }

  #remove(entry: Entry<V>): void {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
  }

  /** Takes `entry` out of the order list (its neighbours join). */
  #unlink(entry: Entry<V>): void {
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer !== null) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = null;
    entry.newer = null;
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
