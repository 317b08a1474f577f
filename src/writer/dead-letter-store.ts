import type { DeadLetter } from "./events.js";

/**
 * The bounded, in-process list of undelivered notes. Bounded because an outage must not exhaust
 * memory; every eviction is counted in the writer's stats, and every entry was logged and emitted
 * as a `dead-lettered` event when it arrived, so nothing leaves silently.
 */
export class DeadLetterStore {
  #entries: DeadLetter[] = [];
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Adds an entry; returns how many old entries were evicted to make room. */
  add(letter: DeadLetter): number {
    this.#entries.push(letter);
    const excess = this.#entries.length - this.#capacity;
    if (excess <= 0) return 0;
    this.#entries.splice(0, excess);
    return excess;
  }

  list(): readonly DeadLetter[] {
    return [...this.#entries];
  }

  take(): DeadLetter[] {
    const entries = this.#entries;
    this.#entries = [];
    return entries;
  }
}
