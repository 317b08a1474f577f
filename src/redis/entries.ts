import type { NoteAction } from "../payloads/types.js";
import { usableStart } from "../writer/action-buffer.js";

/**
 * The Redis engine's encoding of buffered actions: what a note renders (`[timestamp_start,
 * description]` as JSON) plus a dedupe id, so a payload delivered twice (a connector retry, or
 * the same batch reaching two instances) is accepted once. The dedupe id is the wire `index`
 * with the start time; actions without an integer index are never deduplicated. Appends
 * (id, start, entry) triples to `out`.
 */
export function encodeActions(actions: readonly NoteAction[], arrivalSeconds: number, out: (string | number)[] = []): (string | number)[] {
  for (const action of actions) {
    if (action === null || typeof action !== "object") continue;
    const raw = action.timestamp_start;
    const start = usableStart(raw, arrivalSeconds);
    const text = action.description;
    const description = typeof text === "string" ? text : text == null ? "" : String(text);
    const index = action.index;
    const id = typeof index === "number" && Number.isInteger(index) && index >= 0 ? `${index}:${String(raw)}` : "";
    out.push(id, start, JSON.stringify([start, description]));
  }
  return out;
}

/** Decodes entries back into the two columns the note formatter takes. */
export function decodeEntries(entries: readonly string[]): { descriptions: string[]; starts: number[] } {
  const descriptions: string[] = [];
  const starts: number[] = [];
  for (const entry of entries) {
    const [start, description] = JSON.parse(entry) as [number, string];
    descriptions.push(description);
    starts.push(start);
  }
  return { descriptions, starts };
}
