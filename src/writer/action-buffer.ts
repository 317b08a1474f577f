import type { NoteAction } from "../payloads/types.js";

/** How far ahead of the writer's clock a `timestamp_start` may be before it counts as unusable, in s. */
export const MAX_FUTURE_SKEW_SECONDS = 300;

/**
 * The start time the writer files an action under: its `timestamp_start` when that is a positive
 * finite time no more than {@link MAX_FUTURE_SKEW_SECONDS} ahead of arrival, else the arrival
 * time. Zero counts as missing (the parser turns a missing number into 0), and a far-future
 * stamp (a client clock a day ahead) would otherwise never leave the pre-link window.
 */
export function usableStart(raw: unknown, arrivalSeconds: number): number {
  return typeof raw === "number" && raw > 0 && raw <= arrivalSeconds + MAX_FUTURE_SKEW_SECONDS ? raw : arrivalSeconds;
}

/** What the writer keeps of one action: exactly what a note renders. */
export interface BufferedAction {
  description: string;
  /** Unix seconds; the arrival time when the action carried no usable timestamp. */
  timestamp_start: number;
}

/**
 * A session's buffered actions in column form. The writer keeps only what a note renders
 * (description and start time), in two parallel arrays, because a buffered action is then a
 * string reference and a packed double instead of the whole wire object: that is what keeps
 * memory per buffered action small. Arrays are allocated on first use.
 *
 * For summaries the buffer also keeps bounds on its actions' sequence numbers in the session:
 * nothing per action, and always a superset of the numbers held (a note split off a larger
 * buffer, or a buffer trimmed, keeps the wider bounds), so a note is never taken for covered by a
 * summary that missed one of its actions; at worst a covered note is left unredacted.
 */
export class ActionBuffer {
  #descriptions: string[] = [];
  #starts: number[] = [];
  /** Smallest start held, so trimming can skip the scan when nothing is old enough. */
  #minStart = Number.POSITIVE_INFINITY;
  /** Lower bound of the held actions' sequence numbers; 0 when one is unknown (a re-driven action). */
  #seqLo = Number.POSITIVE_INFINITY;
  /** Upper bound of the held actions' sequence numbers. */
  #seqHi = 0;

  get length(): number {
    return this.#starts.length;
  }

  /**
   * Appends wire actions, filed under {@link usableStart}. `actions[i]` has sequence number
   * `firstSeq + i`; `firstSeq` 0 means unknown.
   */
  append(actions: readonly NoteAction[], arrivalSeconds: number, firstSeq = 0): void {
    if (actions.length > 0) this.#widen(firstSeq, firstSeq === 0 ? 0 : firstSeq + actions.length - 1);
    const descriptions = this.#descriptions;
    const starts = this.#starts;
    for (const action of actions) {
      if (action === null || typeof action !== "object") continue;
      const start = usableStart(action.timestamp_start, arrivalSeconds);
      const text = action.description;
      descriptions.push(typeof text === "string" ? text : text == null ? "" : String(text));
      starts.push(start);
      if (start < this.#minStart) this.#minStart = start;
    }
  }

  /** Moves every entry of `other` to the end of this buffer, leaving `other` empty. */
  appendBuffer(other: ActionBuffer): void {
    if (other.length > 0) this.#widen(other.#seqLo, other.#seqHi);
    for (let i = 0; i < other.#starts.length; i++) {
      this.#descriptions.push(other.#descriptions[i] as string);
      this.#starts.push(other.#starts[i] as number);
    }
    this.#minStart = Math.min(this.#minStart, other.#minStart);
    other.clear();
  }

  /** Puts `other`'s entries before this buffer's (a failed note goes back ahead of newer arrivals). */
  prependBuffer(other: ActionBuffer): void {
    if (other.length > 0) this.#widen(other.#seqLo, other.#seqHi);
    this.#descriptions = other.#descriptions.concat(this.#descriptions);
    this.#starts = other.#starts.concat(this.#starts);
    this.#minStart = Math.min(this.#minStart, other.#minStart);
    other.clear();
  }

  /** Removes entries that started before `cutoffSeconds`; returns how many went. */
  trimOlderThan(cutoffSeconds: number): number {
    if (this.#minStart >= cutoffSeconds) return 0;
    const before = this.#starts.length;
    const descriptions: string[] = [];
    const starts: number[] = [];
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < before; i++) {
      const start = this.#starts[i] as number;
      if (start < cutoffSeconds) continue;
      descriptions.push(this.#descriptions[i] as string);
      starts.push(start);
      if (start < min) min = start;
    }
    this.#descriptions = descriptions;
    this.#starts = starts;
    this.#minStart = min;
    if (starts.length === 0) {
      this.#seqLo = Number.POSITIVE_INFINITY;
      this.#seqHi = 0;
    }
    return before - starts.length;
  }

  /**
   * Takes the earliest entries (by start, stable) that fit one note: at most `maxActions`, and
   * action lines of about `maxChars` in all, but always at least one. The rest stays.
   */
  takeNote(maxActions: number, maxChars: number): ActionBuffer {
    const taken = new ActionBuffer();
    const count = this.#starts.length;
    if (count === 0) return taken;
    this.#sortByStart();
    let n = 0;
    let chars = 0;
    while (n < count && n < maxActions) {
      chars += (this.#descriptions[n] as string).length + 8;
      if (n > 0 && chars > maxChars) break;
      n++;
    }
    // The bounds of the whole buffer: exact when it is taken whole (the common case), wider otherwise.
    taken.#seqLo = this.#seqLo;
    taken.#seqHi = this.#seqHi;
    if (n === count) {
      taken.#descriptions = this.#descriptions;
      taken.#starts = this.#starts;
      taken.#minStart = this.#minStart;
      this.clear();
      return taken;
    }
    taken.#descriptions = this.#descriptions.splice(0, n);
    taken.#starts = this.#starts.splice(0, n);
    taken.#minStart = taken.#starts[0] as number;
    this.#minStart = this.#starts[0] as number;
    return taken;
  }

  /** Descriptions in buffer order (read-only view for formatting). */
  get descriptions(): readonly string[] {
    return this.#descriptions;
  }

  /** Start times in Unix seconds, in buffer order (read-only view for formatting). */
  get starts(): readonly number[] {
    return this.#starts;
  }

  /** Bounds `[lo, hi]` of the held actions' sequence numbers (`[0, 0]` when empty; `lo` 0: one is unknown). */
  seqRange(): [number, number] {
    return this.#starts.length === 0 ? [0, 0] : [this.#seqLo, this.#seqHi];
  }

  /** A copy of the entries as plain objects (for dead letters and inspection). */
  toActions(): BufferedAction[] {
    return this.#starts.map((start, i) => ({ description: this.#descriptions[i] as string, timestamp_start: start }));
  }

  clear(): void {
    this.#descriptions = [];
    this.#starts = [];
    this.#minStart = Number.POSITIVE_INFINITY;
    this.#seqLo = Number.POSITIVE_INFINITY;
    this.#seqHi = 0;
  }

  #widen(lo: number, hi: number): void {
    if (lo < this.#seqLo) this.#seqLo = lo;
    if (hi > this.#seqHi) this.#seqHi = hi;
  }

  /** Stable sort by start; skipped when already in order, which is the common case. */
  #sortByStart(): void {
    const starts = this.#starts;
    let sorted = true;
    for (let i = 1; i < starts.length; i++) {
      if ((starts[i] as number) < (starts[i - 1] as number)) {
        sorted = false;
        break;
      }
    }
    if (sorted) return;
    const order = starts.map((_, i) => i).sort((a, b) => (starts[a] as number) - (starts[b] as number) || a - b);
    this.#descriptions = order.map((i) => this.#descriptions[i] as string);
    this.#starts = order.map((i) => starts[i] as number);
  }
}
