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
  const hashes = new Float64Array(actions.length);
  writeDedupeHashes(actions, hashes);
  const ids = new Array<string>(actions.length);
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i] as number;
    ids[i] = Number.isNaN(h) ? "" : base36(h);
  }
  return ids;
}

/** 36^6: the base-36 digits below it fit one `toString(36)` of a number V8 converts quickly. */
const SIX_DIGITS = 36 ** 6;

/**
 * `n.toString(36)` for a whole number 0 ≤ n < 2^53, as two conversions of six digits or fewer:
 * V8 converts a number this large digit by digit through its fraction routine, about six times
 * slower (it was 2 % of a Redis-mode request's CPU).
 */
export function base36(n: number): string {
  if (n < SIX_DIGITS) return n.toString(36);
  // Exact: the division is rounded correctly and never reaches the next whole number below 2^53
  // (the test checks every multiple), and the product and difference are whole numbers below 2^53.
  const high = Math.floor(n / SIX_DIGITS);
  const tail = (n - high * SIX_DIGITS).toString(36);
  return high.toString(36) + "000000".slice(tail.length) + tail;
}

/** {@link dedupeIds} as numbers (NaN for a non-object item): what the memory engine keeps, 8 bytes each. */
export function dedupeHashes(actions: readonly NoteAction[]): number[] {
  const ids = new Float64Array(actions.length);
  writeDedupeHashes(actions, ids);
  return Array.from(ids);
}

/**
 * {@link dedupeHashes} written into `out[0 … actions.length - 1]` (which must be that long), so
 * a caller hashing every batch can reuse one buffer instead of allocating an array per batch.
 */
export function writeDedupeHashes(actions: readonly NoteAction[], out: Float64Array): void {
  let batch: number | undefined;
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as NoteAction | null;
    if (action === null || typeof action !== "object") {
      out[i] = Number.NaN;
    } else if (hasWireIdentity(action)) {
      begin(IDENTIFIED);
      mixValue(hasWireIndex(action) ? action.index : undefined);
      mixValue(action.timestamp_start);
      mixContent(action);
      out[i] = digest();
    } else {
      batch ??= batchFingerprint(actions);
      begin(BY_BATCH);
      mixNumber(batch);
      mixNumber(i);
      out[i] = digest();
    }
  }
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

function batchFingerprint(actions: readonly NoteAction[]): number {
  begin(BATCH);
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

/*
 * A fast 53-bit hash (two 32-bit multiply-xor lanes), fed field by field. Not cryptographic.
 * One hash is built at a time (JavaScript is single-threaded and nothing here awaits). The two
 * lanes live in one typed array, read into locals for the per-character loop: module `let`
 * variables would be loaded and stored on every character.
 */
const IDENTIFIED = 1;
const BY_BATCH = 2;
const BATCH = 3;
const STRING_TAG = 0x5354;
const NUMBER_TAG = 0x4e55;
const NULL_TAG = 0x4e4c;
const OTHER_TAG = 0x4f42;
const M1 = 2654435761;
const M2 = 1597334677;
const lanes = new Int32Array(2);
const float = new Float64Array(1);
const words = new Int32Array(float.buffer);

function begin(kind: number): void {
  lanes[0] = 0xdeadbeef ^ kind;
  lanes[1] = 0x41c6ce57 ^ kind;
}

function mix(word: number): void {
  lanes[0] = Math.imul((lanes[0] as number) ^ word, M1);
  lanes[1] = Math.imul((lanes[1] as number) ^ word, M2);
}

function mixNumber(n: number): void {
  float[0] = n;
  mix(words[0] as number);
  mix(words[1] as number);
}

/** Tagged, then every UTF-16 unit, then the length: fields cannot run together. */
function mixString(s: string): void {
  let h1 = Math.imul((lanes[0] as number) ^ STRING_TAG, M1);
  let h2 = Math.imul((lanes[1] as number) ^ STRING_TAG, M2);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, M1);
    h2 = Math.imul(h2 ^ c, M2);
  }
  lanes[0] = Math.imul(h1 ^ n, M1);
  lanes[1] = Math.imul(h2 ^ n, M2);
}

/** Each value is tagged with its type and, for strings, ended by its length. */
function mixValue(value: unknown): void {
  if (typeof value === "string") {
    mixString(value);
  } else if (typeof value === "number") {
    mix(NUMBER_TAG);
    mixNumber(value);
  } else if (value === null || value === undefined) {
    mix(NULL_TAG);
  } else {
    mix(OTHER_TAG);
    mixString(typeof value === "boolean" ? String(value) : (JSON.stringify(value) ?? ""));
  }
}

function digest(): number {
  const h1 = lanes[0] as number;
  const h2 = lanes[1] as number;
  const a = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  const b = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/** The same 53-bit hash of a whole string. */
export function hash53(input: string): number {
  begin(0);
  mixString(input);
  return digest();
}
