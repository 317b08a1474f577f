/**
 * One session's recently accepted action ids (the memory engine's dedupe memory), bounded by age
 * (`windowMs`) and count (`maxIds`): the oldest are forgotten first. Ids are the 53-bit numbers
 * of `dedupeHashes`, kept in insertion order in a packed array (8 bytes each); a Set joins it
 * only once a session holds more than {@link SCAN_LIMIT} ids (a short scan is cheaper than a
 * Set's ~60 bytes per entry, and most sessions are short). The age is kept per batch, not per
 * id, and batches admitted at the same millisecond share one entry.
 */
/** Ids a session may hold before lookups go through a Set rather than a scan. */
const SCAN_LIMIT = 64;

export class SeenIds {
  #set: Set<number> | null = null;
  #ids: number[] = [];
  /** Two numbers per admitted batch: where its ids start in `#ids`, and when it was admitted. */
  #batches: number[] = [];
  #head = 0;
  /** The first batch still remembered, counted in batches (its entry is at twice this). */
  #batchHead = 0;

  get size(): number {
    return this.#ids.length - this.#head;
  }

  /**
   * Records the ids `ids[0 … count - 1]` of one batch at `now` and returns, for each, whether it
   * is new (NaN ids, for items that are not actions, are never new and never recorded). An id
   * repeated within the batch is new only the first time. Returns null when every id was new
   * (the common case).
   */
  admit(ids: ArrayLike<number>, count: number, now: number, windowMs: number, maxIds: number): boolean[] | null {
    if (maxIds === 0 || windowMs === 0) return null; // dedupe disabled
    this.#forget(now - windowMs, maxIds);
    const start = this.#ids.length;
    let fresh: boolean[] | null = null;
    for (let i = 0; i < count; i++) {
      const id = ids[i] as number;
      // Not an action (never accepted, so a caller's count of new actions cannot include it), or a replay.
      if (Number.isNaN(id) || this.#has(id)) {
        fresh ??= newUpTo(i, count);
        fresh[i] = false;
        continue;
      }
      this.#ids.push(id);
      if (this.#set !== null) this.#set.add(id);
      else if (this.#ids.length - this.#head > SCAN_LIMIT) this.#set = new Set(this.#ids.slice(this.#head));
      if (fresh !== null) fresh[i] = true;
    }
    if (this.#ids.length > start) this.#record(start, now);
    this.#forget(Number.NEGATIVE_INFINITY, maxIds);
    return fresh;
  }

  /** A batch whose ids start at `start`, admitted at `now`: joins the last batch when that has the same time. */
  #record(start: number, now: number): void {
    const batches = this.#batches;
    if (batches.length > this.#batchHead * 2 && batches[batches.length - 1] === now) return;
    batches.push(start, now);
  }

  /** Forgets the ids of batches admitted before `cutoff`, and the oldest ids beyond `maxIds`. */
  #forget(cutoff: number, maxIds: number): void {
    const ids = this.#ids;
    const batches = this.#batches;
    const batchCount = batches.length / 2;
    let head = this.#head;
    let batch = this.#batchHead;
    // Nothing to forget (every call but a few): the oldest batch is young enough and the count within bounds.
    if (ids.length - head <= maxIds && (batch >= batchCount || (batches[batch * 2 + 1] as number) >= cutoff)) return;
    while (batch < batchCount && (batches[batch * 2 + 1] as number) < cutoff) batch++;
    const agedOut = batch < batchCount ? (batches[batch * 2] as number) : ids.length;
    const until = Math.max(agedOut, ids.length - maxIds);
    if (this.#set !== null) for (let i = head; i < until; i++) this.#set.delete(ids[i] as number);
    if (until > head) head = until;
    // Batches whose ids are all gone are done with.
    while (batch + 1 < batchCount && (batches[(batch + 1) * 2] as number) <= head) batch++;
    if (batch < batchCount && head >= ids.length) batch = batchCount;
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
    const kept = this.#batches.slice(this.#batchHead * 2);
    for (let i = 0; i < kept.length; i += 2) kept[i] = Math.max(0, (kept[i] as number) - head);
    this.#ids = this.#ids.slice(head);
    this.#batches = kept;
    this.#head = 0;
    this.#batchHead = 0;
  }
}

/** A batch's answers before item `i`: all new (items that are not actions are skipped by the caller anyway). */
function newUpTo(i: number, count: number): boolean[] {
  const fresh = new Array<boolean>(count);
  for (let k = 0; k < count; k++) fresh[k] = k < i;
  return fresh;
}
