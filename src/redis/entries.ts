import type { NoteAction } from "../payloads/types.js";
import { usableStart, type BufferedAction } from "../writer/action-buffer.js";
import { dedupeIds } from "../writer/action-identity.js";

/**
 * The Redis engine's encoding of buffered actions: what a note renders (`[timestamp_start,
 * description` as JSON without its closing bracket, which WRITE adds after the action's sequence
 * number) plus the action's dedupe id from {@link dedupeIds} (the same ids the
 * memory engine uses), so a replayed payload is accepted once while distinct actions never
 * collapse. Appends (id, start, entry) triples to `out`; non-object items are skipped. Returns how
 * many actions were encoded.
 */
export function encodeActions(actions: readonly NoteAction[], arrivalSeconds: number, out: (string | number)[]): number {
  const ids = dedupeIds(actions);
  let count = 0;
  for (let i = 0; i < actions.length; i++) {
    const id = ids[i] as string;
    if (id === "") continue;
    const action = actions[i] as NoteAction;
    const start = usableStart(action.timestamp_start, arrivalSeconds);
    const text = action.description;
    const description = typeof text === "string" ? text : text == null ? "" : String(text);
    // `[start, description` without its closing bracket: WRITE appends the sequence number and closes it.
    out.push(id, start, `[${start},${JSON.stringify(description)}`);
    count++;
  }
  return count;
}

/** One entry, as the scripts store it. */
export function encodeEntry(action: BufferedAction): string {
  return JSON.stringify([action.timestamp_start, action.description]);
}

/**
 * Decodes entries back into the two columns the note formatter takes, and the smallest and
 * largest action sequence number among them (`lo` 0 when one is unknown: a re-driven entry).
 */
export function decodeEntries(entries: readonly string[]): { descriptions: string[]; starts: number[]; lo: number; hi: number } {
  const descriptions: string[] = [];
  const starts: number[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const entry of entries) {
    const [start, description, seq] = JSON.parse(entry) as [number, string, number?];
    descriptions.push(description);
    starts.push(start);
    const n = typeof seq === "number" && Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
    if (n < lo) lo = n;
    if (n > hi) hi = n;
  }
  return { descriptions, starts, lo: entries.length === 0 ? 0 : lo, hi };
}
