/**
 * What the memory engine remembers of a session's delivered notes, for the summary overwrite
 * step: each note's part id, its conversation, and the sequence range of the actions it carried.
 * Columns (parallel arrays), one entry per delivered note with an id: nothing per action.
 */

/** An inclusive range of a session's action sequence numbers (the writer numbers accepted actions 1, 2, …). */
export interface SequenceRange {
  readonly from: number;
  readonly to: number;
}

/** One delivered note the writer authored, as a summary snapshot holds it. */
export interface NoteRecord {
  readonly partId: string;
  readonly conversationId: string;
  /** Smallest sequence number among the note's actions; 0 when one is unknown, -1 for a summary note. */
  readonly lo: number;
  /** Largest sequence number among the note's actions. */
  readonly hi: number;
}

/** A summary note's record: it carries no actions, so no summary can ever cover it. */
export const SUMMARY_SEQ = -1;

/** Whether every action of a note with sequence range [lo, hi] lies in one of `ranges`. */
export function isCovered(lo: number, hi: number, ranges: readonly SequenceRange[]): boolean {
  if (lo < 1) return false;
  for (const r of ranges) if (r.from <= lo && hi <= r.to) return true;
  return false;
}

/** Inclusive ranges of sorted-or-not sequence numbers, merged where contiguous; non-positive numbers are left out. */
export function toRanges(seqs: Iterable<number>): SequenceRange[] {
  const sorted = [...seqs].filter((n) => Number.isSafeInteger(n) && n > 0).sort((a, b) => a - b);
  const ranges: SequenceRange[] = [];
  let from = 0;
  let to = -1;
  for (const n of sorted) {
    if (n === to || n === to + 1) {
      to = n;
      continue;
    }
    if (to >= from && from > 0) ranges.push({ from, to });
    from = n;
    to = n;
  }
  if (from > 0) ranges.push({ from, to });
  return ranges;
}

/** A session's delivered notes with part ids, oldest first. */
export class NoteRecords {
  #ids: string[] = [];
  #conversations: string[] = [];
  #lo: number[] = [];
  #hi: number[] = [];

  get length(): number {
    return this.#ids.length;
  }

  /** Part ids, oldest first. */
  get partIds(): readonly string[] {
    return this.#ids;
  }

  add(partId: string, conversationId: string, lo: number, hi: number): void {
    this.#ids.push(partId);
    this.#conversations.push(conversationId);
    this.#lo.push(lo);
    this.#hi.push(hi);
  }

  /** Removes and returns the notes of `conversationId` whose actions all lie in `ranges`. */
  takeCovered(conversationId: string, ranges: readonly SequenceRange[]): NoteRecord[] {
    const taken: NoteRecord[] = [];
    if (ranges.length === 0) return taken;
    let kept = 0;
    for (let i = 0; i < this.#ids.length; i++) {
      const partId = this.#ids[i] as string;
      const conversation = this.#conversations[i] as string;
      const lo = this.#lo[i] as number;
      const hi = this.#hi[i] as number;
      if (conversation === conversationId && isCovered(lo, hi, ranges)) {
        taken.push({ partId, conversationId: conversation, lo, hi });
        continue;
      }
      this.#ids[kept] = partId;
      this.#conversations[kept] = conversation;
      this.#lo[kept] = lo;
      this.#hi[kept] = hi;
      kept++;
    }
    this.#ids.length = kept;
    this.#conversations.length = kept;
    this.#lo.length = kept;
    this.#hi.length = kept;
    return taken;
  }

  /** Puts records back (a summary that was never posted redacts nothing), ahead of newer ones. */
  restore(records: readonly NoteRecord[]): void {
    if (records.length === 0) return;
    this.#ids = records.map((r) => r.partId).concat(this.#ids);
    this.#conversations = records.map((r) => r.conversationId).concat(this.#conversations);
    this.#lo = records.map((r) => r.lo).concat(this.#lo);
    this.#hi = records.map((r) => r.hi).concat(this.#hi);
  }
}
