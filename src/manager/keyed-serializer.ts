/**
 * Runs async work one at a time per key (a session id), in call order, while different keys run
 * concurrently. Entries are removed as soon as a key's queue empties, so the map never outgrows
 * the sessions that are busy right now.
 */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    const result = previous === undefined ? work() : previous.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
