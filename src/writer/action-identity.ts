import { wasDefaulted } from "../payloads/parse.js";
import type { NoteAction } from "../payloads/types.js";

/**
 * Dedupe ids: what makes a replayed action (a connector retry, the same batch reaching two
 * instances, a re-sent batch with a new `forwarded_at`) count once, while distinct actions are
 * never merged. Both delivery engines use these ids.
 *
 * - An action whose `timestamp_start` was really sent (a positive number the lenient parser did
 *   not default) is identified by it, its `index` when that was sent too (a merge that re-indexes
 *   does not count), and its content (type, description, URL, end time): two different actions
 *   that share an index and a whole-second stamp stay distinct; two actions equal in every field
 *   sent are one action sent twice.
 * - An action without a sent time can only be recognised as part of the same batch again: its
 *   id is the batch's content fingerprint plus its position in the batch.
 *
 * Ids are 53-bit hashes (as numbers here, in base 36 for Redis: about 11 characters): a collision between two
 * distinct actions of one session within the dedupe window is about 1 in 10^12.
 */
export function dedupeIds(actions: readonly NoteAction[]): string[] {
  return dedupeHashes(actions).map((h) => (Number.isNaN(h) ? "" : h.toString(36)));
}

/** {@link dedupeIds} as numbers (NaN for a non-object item): what the memory engine keeps, 8 bytes each. */
export function dedupeHashes(actions: readonly NoteAction[]): number[] {
  const ids = new Array<number>(actions.length);
  let batch: number | undefined;
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as NoteAction | null;
    if (action === null || typeof action !== "object") {
      ids[i] = Number.NaN;
      continue;
    }
    if (hasWireIdentity(action)) {
      const index = hasWireIndex(action) ? String(action.index) : "";
      ids[i] = hash53(`i\u0000${index}\u0000${String(action.timestamp_start)}\u0000${contentOf(action)}`);
    } else {
      batch ??= batchFingerprint(actions);
      ids[i] = hash53(`b\u0000${batch}\u0000${i}`);
    }
  }
  return ids;
}

/** Whether the action's `timestamp_start` was really sent and can identify it. */
export function hasWireIdentity(action: NoteAction): boolean {
  const start = action.timestamp_start;
  return typeof start === "number" && Number.isFinite(start) && start > 0 && !wasDefaulted(action, "timestamp_start");
}

/** Whether the action's `index` was really sent (not defaulted, not re-assigned by a merge). */
function hasWireIndex(action: NoteAction): boolean {
  const index = action.index;
  return typeof index === "number" && Number.isInteger(index) && index >= 0 && !wasDefaulted(action, "index");
}

function contentOf(action: NoteAction): string {
  const a = action as NoteAction & { type?: unknown; canonical_url?: unknown; timestamp_end?: unknown };
  return `${text(a.type)}\u0000${text(a.description)}\u0000${text(a.canonical_url)}\u0000${text(a.timestamp_end)}`;
}

function batchFingerprint(actions: readonly NoteAction[]): number {
  let all = "";
  for (const action of actions) {
    if (action === null || typeof action !== "object") continue;
    all += `${text(action.index)}\u0000${text(action.timestamp_start)}\u0000${contentOf(action)}\u0001`;
  }
  return hash53(all);
}

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return value == null ? "" : JSON.stringify(value) ?? "";
}

/** A fast 53-bit string hash (two 32-bit multiply-xor lanes). Not cryptographic. */
export function hash53(input: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
