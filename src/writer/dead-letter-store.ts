import type { DeadLetter } from "./events.js";

/**
 * The memory engine's bounded list of undelivered notes. Bounded by count and by bytes (each
 * letter's JSON length) because an outage must not exhaust memory; every eviction is counted in
 * the writer's stats, and every entry was logged and emitted as a `dead-lettered` event when it
 * arrived, so nothing leaves silently.
 */
export class DeadLetterStore {
  #entries: Array<{ letter: DeadLetter; bytes: number }> = [];
  #bytes = 0;
  readonly #maxCount: number;
  readonly #maxBytes: number;

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Bytes held now (the letters' JSON). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds an entry; returns how many old entries (possibly this one, if alone too large) were evicted. */
  add(letter: DeadLetter): number {
    const bytes = JSON.stringify(letter).length;
    this.#entries.push({ letter, bytes });
    this.#bytes += bytes;
    let evicted = 0;
    while (this.#entries.length > 0 && (this.#entries.length > this.#maxCount || this.#bytes > this.#maxBytes)) {
      this.#bytes -= (this.#entries.shift() as { bytes: number }).bytes;
      evicted++;
    }
    return evicted;
  }

  list(): DeadLetter[] {
    return this.#entries.map((e) => e.letter);
  }

  /** Removes and returns the entries with these ids (all when `ids` is omitted), oldest first. */
  take(ids?: readonly string[]): DeadLetter[] {
    if (ids === undefined) {
      const all = this.list();
      this.#entries = [];
      this.#bytes = 0;
      return all;
    }
    const wanted = new Set(ids);
    const taken: DeadLetter[] = [];
    this.#entries = this.#entries.filter((e) => {
      if (!wanted.has(e.letter.id)) return true;
      taken.push(e.letter);
      this.#bytes -= e.bytes;
      return false;
    });
    return taken;
  }
}
