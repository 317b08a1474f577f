/**
 * One session's recently accepted action ids (the memory engine's dedupe memory), bounded by age
 * (`windowMs`) and count (`maxIds`): the oldest are forgotten first. Ids are the 53-bit numbers
 * of `dedupeHashes`, kept in insertion order in a packed array (8 bytes each); a Set joins it
 * only once a session holds more than {@link SCAN_LIMIT} ids (a short scan is cheaper than a
 * Set's ~60 bytes per entry, and most sessions are short). The age is kept per batch, not per id.
 */
/** Ids a session may hold before lookups go through a Set rather than a scan. */
const SCAN_LIMIT = 64;

export class SeenIds {
  #set: Set<number> | null = null;
  #ids: number[] = [];
  /** Per admitted batch: where its ids start in `#ids`, and when it was admitted. */
  #batchStarts: number[] = [];
  #batchTimes: number[] = [];
  #head = 0;
  #batchHead = 0;

  get size(): number {
    return this.#ids.length - this.#head;
  }

  /**
   * Records the ids of one batch at `now` and returns, for each, whether it is new (NaN ids, for
   * items that are not actions, are never new and never recorded). An id repeated within the batch is
   * new only the first time. Returns null when every id was new (the common case).
   */
  admit(ids: readonly number[], now: number, windowMs: number, maxIds: number): boolean[] | null {
    if (maxIds === 0 || windowMs === 0) return null; // dedupe disabled
    this.#forget(now - windowMs, maxIds);
    const start = this.#ids.length;
    let fresh: boolean[] | null = null;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (Number.isNaN(id)) {
        // Not an action: never accepted, so a caller's count of new actions cannot include it.
        fresh ??= ids.map((_, k) => k < i);
        fresh[i] = false;
        continue;
      }
      if (this.#has(id)) {
        // Items before i were all new (or not actions, which the caller skips anyway).
        fresh ??= ids.map((_, k) => k < i);
        fresh[i] = false;
        continue;
      }
      this.#ids.push(id);
      if (this.#set !== null) this.#set.add(id);
      else if (this.#ids.length - this.#head > SCAN_LIMIT) this.#set = new Set(this.#ids.slice(this.#head));
      if (fresh !== null) fresh[i] = true;
    }
    if (this.#ids.length > start) {
      this.#batchStarts.push(start);
      this.#batchTimes.push(now);
    }
    this.#forget(Number.NEGATIVE_INFINITY, maxIds);
    return fresh;
  }

  /** Forgets the ids of batches admitted before `cutoff`, and the oldest ids beyond `maxIds`. */
  #forget(cutoff: number, maxIds: number): void {
    const ids = this.#ids;
    let head = this.#head;
    let batch = this.#batchHead;
    while (batch < this.#batchTimes.length && (this.#batchTimes[batch] as number) < cutoff) batch++;
    const agedOut = batch < this.#batchStarts.length ? (this.#batchStarts[batch] as number) : ids.length;
    const until = Math.max(agedOut, ids.length - maxIds);
    if (this.#set !== null) for (let i = head; i < until; i++) this.#set.delete(ids[i] as number);
    if (until > head) head = until;
    // Batches whose ids are all gone are done with.
    while (batch + 1 < this.#batchStarts.length && (this.#batchStarts[batch + 1] as number) <= head) batch++;
    if (batch < this.#batchStarts.length && head >= ids.length) batch = this.#batchStarts.length;
    this.#head = head;
    this.#batchHead = batch;
    if (head > 1024 && head * 2 > ids.length) this.#compact();
  }

  #has(id: number): boolean {
    if (this.#set !== null) return this.#set.has(id);
    const ids = this.#ids;
    for (let i = ids.length - 1; i >= this.#head; i--) if (ids[i] === id) return true;
    return false;
  }

  #compact(): void {
    const head = this.#head;
    this.#ids = this.#ids.slice(head);
    this.#batchStarts = this.#batchStarts.slice(this.#batchHead).map((s) => Math.max(0, s - head));
    this.#batchTimes = this.#batchTimes.slice(this.#batchHead);
    this.#head = 0;
    this.#batchHead = 0;
  }
}
