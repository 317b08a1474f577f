/**
 * One session's recently accepted action ids (the memory engine's dedupe memory), bounded by age
 * (`windowMs`) and count (`maxIds`): the oldest are forgotten first. Ids are the 53-bit numbers
 * of `dedupeHashes`, kept in insertion order in a packed array (8 bytes each) beside a Set.
 */
export class SeenIds {
  readonly #set = new Set<number>();
  #ids: number[] = [];
  #times: number[] = [];
  #head = 0;

  get size(): number {
    return this.#set.size;
  }

  /**
   * Records the ids of one batch at `now` and returns, for each, whether it is new (NaN ids, for
   * items that are not actions, are neither new nor recorded). An id repeated within the batch is
   * new only the first time. Returns null when every id was new (the common case).
   */
  admit(ids: readonly number[], now: number, windowMs: number, maxIds: number): boolean[] | null {
    if (maxIds === 0 || windowMs === 0) return null; // dedupe disabled
    this.#forget(now - windowMs, maxIds);
    let fresh: boolean[] | null = null;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (Number.isNaN(id)) continue;
      if (this.#set.has(id)) {
        // Items before i were all new (or not actions, which the caller skips anyway).
        fresh ??= ids.map((_, k) => k < i);
        fresh[i] = false;
        continue;
      }
      this.#set.add(id);
      this.#ids.push(id);
      this.#times.push(now);
      if (fresh !== null) fresh[i] = true;
    }
    this.#forget(Number.NEGATIVE_INFINITY, maxIds);
    return fresh;
  }

  /** Forgets ids recorded before `cutoff` and the oldest beyond `maxIds`. */
  #forget(cutoff: number, maxIds: number): void {
    const ids = this.#ids;
    const times = this.#times;
    let head = this.#head;
    while (head < ids.length && ((times[head] as number) < cutoff || ids.length - head > maxIds)) {
      this.#set.delete(ids[head] as number);
      head++;
    }
    if (head > 1024 && head * 2 > ids.length) {
      this.#ids = ids.slice(head);
      this.#times = times.slice(head);
      head = 0;
    }
    this.#head = head;
  }
}
