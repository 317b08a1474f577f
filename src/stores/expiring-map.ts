import { requireDurationMs, requireFunction } from "../session/validation.js";

/** Sweeps run at least this often, in ms, so expired entries never linger long. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** Options of {@link ExpiringMap}. */
export interface ExpiringMapOptions {
  /** Time to live of an entry, in ms, counted from its last write. */
  ttlMs: number;
  /** Wall clock, epoch ms. */
  now: () => number;
}

interface Entry<V> {
  value: V;
  expiresAtMs: number;
}

/**
 * The in-memory stores' shared backbone: a map whose entries expire `ttlMs` after their last
 * write. Expired entries are invisible at once and freed by a sweep: an `unref()`'d interval that
 * runs only while the map holds entries, so an idle process is not kept alive or woken for nothing.
 * Internal; not exported from the package.
 */
export class ExpiringMap<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ExpiringMapOptions) {
    this.#ttlMs = requireDurationMs("ttlMs", options.ttlMs, true);
    this.#now = requireFunction<() => number>("now", options.now);
  }

  /** Entries held in memory, including expired ones the next sweep frees. */
  get size(): number {
    return this.#entries.size;
  }

  /** The live value for `key`; an expired entry is removed and reads as undefined. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > this.#now()) return entry.value;
    this.delete(key);
    return undefined;
  }

  /** Writes `value`, (re)starting its time to live. */
  set(key: string, value: V): void {
    this.#entries.set(key, { value, expiresAtMs: this.#now() + this.#ttlMs });
    this.#startSweeper();
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
    if (this.#entries.size === 0) this.#stopSweeper();
    return removed;
  }

  /** Drops every entry and stops the sweep. */
  clear(): void {
    this.#entries.clear();
    this.#stopSweeper();
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      try {
        this.pruneExpired();
      } catch {
        // Only a broken injected clock can throw here; reads report it, a timer must not crash the process.
      }
    }, Math.min(this.#ttlMs, MAX_SWEEP_INTERVAL_MS));
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
