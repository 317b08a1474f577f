import { wasDefaulted } from "../../payloads/parse.js";
import type { NoteAction } from "../../payloads/types.js";

/**
 * The dedupe hash written the plain way, one module-level mix per word, as it was before the
 * hashing was tuned: tests hold the tuned {@link dedupeHashes} to exactly these values, so
 * tuning never changes an id (Redis keeps ids across versions of the writer). Which fields are
 * hashed, and in which order, is repeated here on purpose rather than imported: a change there
 * changes every id too, and must fail these tests as well.
 */
export function referenceDedupeHashes(actions: readonly NoteAction[]): number[] {
  const ids = new Array<number>(actions.length);
  let batch: number | undefined;
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as NoteAction | null;
    if (action === null || typeof action !== "object") {
      ids[i] = Number.NaN;
      continue;
    }
    if (hasWireIdentity(action)) {
      begin(1);
      mixValue(hasWireIndex(action) ? action.index : undefined);
      mixValue(action.timestamp_start);
      mixContent(action);
      ids[i] = digest();
    } else {
      batch ??= batchFingerprint(actions);
      begin(2);
      mixNumber(batch);
      mixNumber(i);
      ids[i] = digest();
    }
  }
  return ids;
}

function hasWireIdentity(action: NoteAction): boolean {
  const start = action.timestamp_start;
  return typeof start === "number" && Number.isFinite(start) && start > 0 && !wasDefaulted(action, "timestamp_start");
}

function hasWireIndex(action: NoteAction): boolean {
  const index = action.index;
  return typeof index === "number" && Number.isInteger(index) && index >= 0 && !wasDefaulted(action, "index");
}

function batchFingerprint(actions: readonly NoteAction[]): number {
  begin(3);
  for (const action of actions) {
    if (action === null || typeof action !== "object") continue;
    mixValue(action.index);
    mixValue(action.timestamp_start);
    mixContent(action);
  }
  return digest();
}

function mixContent(action: NoteAction): void {
  const a = action as NoteAction & { type?: unknown; canonical_url?: unknown; timestamp_end?: unknown };
  mixValue(a.type);
  mixValue(a.description);
  mixValue(a.canonical_url);
  mixValue(a.timestamp_end);
}

const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
let h1 = 0;
let h2 = 0;

function begin(kind: number): void {
  h1 = 0xdeadbeef ^ kind;
  h2 = 0x41c6ce57 ^ kind;
}

function mix(word: number): void {
  h1 = Math.imul(h1 ^ word, 2654435761);
  h2 = Math.imul(h2 ^ word, 1597334677);
}

function mixNumber(n: number): void {
  float[0] = n;
  mix(words[0] as number);
  mix(words[1] as number);
}

function mixValue(value: unknown): void {
  if (typeof value === "string") {
    mix(0x5354);
    for (let i = 0; i < value.length; i++) mix(value.charCodeAt(i));
    mix(value.length);
  } else if (typeof value === "number") {
    mix(0x4e55);
    mixNumber(value);
  } else if (value === null || value === undefined) {
    mix(0x4e4c);
  } else {
    mix(0x4f42);
    mixValue(typeof value === "boolean" ? String(value) : (JSON.stringify(value) ?? ""));
  }
}

function digest(): number {
  const a = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  const b = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}
