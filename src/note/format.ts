/**
 * The note body posted into a conversation (SPEC §3). Byte-exact: agents and bots read it, and
 * tests compare it as a string.
 *
 * A timestamp is *usable* when it is a finite number within JavaScript Date's range
 * (|t| <= 8.64e12 seconds). Anything else (missing, null, NaN, ±Infinity, a non-number, or out of
 * range) counts as missing: it sorts and bins as 0, and a header that would use it uses "now".
 */
import type { NoteAction } from "../payloads/types.js";

/** Largest |Unix seconds| a JavaScript Date can hold. */
const MAX_DATE_SECONDS = 8.64e12;

/**
 * `session_id: {sessionId or "unknown"}\ntimestamp: YYYY-MM-DD HH:MM:SS UTC\n\n`. The fraction of
 * a second is floored away (so -0.5 is 1969-12-31 23:59:59). Years outside 0000–9999 use the
 * ±YYYYYY form of `Date#toISOString`. Throws a RangeError for an unusable timestamp.
 */
export function formatChatbotNoteHeader(sessionId: string | null | undefined, timestampUnixSeconds: number): string {
  if (!isUsable(timestampUnixSeconds)) {
    throw new RangeError(
      `timestampUnixSeconds must be finite Unix seconds within ±${MAX_DATE_SECONDS}, got ${String(timestampUnixSeconds)}`,
    );
  }
  const iso = new Date(Math.floor(timestampUnixSeconds) * 1000).toISOString();
  // "2024-06-10T06:13:20.000Z" -> "2024-06-10 06:13:20"; slicing from the end keeps ±YYYYYY years.
  const stamp = iso.slice(0, -5).replace("T", " ");
  return `session_id: ${sessionId || "unknown"}\ntimestamp: ${stamp} UTC\n\n`;
}

/**
 * An action timeline note (SPEC §3): header, then `[n] {description}` lines numbered 1..N within
 * this note (never the wire `index`), stably sorted by `timestamp_start`, with one empty line
 * between lines whose epoch-aligned `floor(t / binSeconds)` differ (`binSeconds` 0 disables).
 * The header uses the first sorted action's time, or `nowUnixSeconds` if there are no actions or
 * that time is missing (an explicit 0 gives 1970). A missing or non-string description renders
 * as "". Descriptions pass through unchanged, newlines included.
 */
export function formatNote(
  sessionId: string | null | undefined,
  actions: readonly NoteAction[],
  binSeconds: number,
  nowUnixSeconds: number = Date.now() / 1000,
): string {
  const descriptions: string[] = [];
  const starts: number[] = [];
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i];
    const description = action?.description;
    const start = action?.timestamp_start;
    descriptions.push(typeof description === "string" ? description : "");
    starts.push(typeof start === "number" ? start : Number.NaN);
  }
  return formatNoteColumns(sessionId, descriptions, starts, binSeconds, nowUnixSeconds);
}

/**
 * The one rendering core behind {@link formatNote}, taking columns so a caller holding many
 * actions (the writer) need not build an object per action. `starts[i]` belongs to
 * `descriptions[i]`; unusable starts follow the module's missing-timestamp rule. Throws a
 * TypeError for a negative, NaN or infinite `binSeconds` or columns of different lengths.
 */
export function formatNoteColumns(
  sessionId: string | null | undefined,
  descriptions: readonly string[],
  starts: readonly number[],
  binSeconds: number,
  nowUnixSeconds: number,
): string {
  if (typeof binSeconds !== "number" || !(binSeconds >= 0) || binSeconds === Infinity) {
    throw new TypeError(`binSeconds must be a finite number >= 0 (0 disables binning), got ${String(binSeconds)}`);
  }
  if (descriptions.length !== starts.length) {
    throw new TypeError(`descriptions (${descriptions.length}) and starts (${starts.length}) must have the same length`);
  }
  if (starts.length === 0) return formatChatbotNoteHeader(sessionId, nowUnixSeconds);
  const order = sortedOrder(starts);
  const firstStart = starts[order === null ? 0 : (order[0] ?? 0)];
  // Pieces joined once at the end: appending line by line would copy every description into a
  // line string and chain a rope node per piece.
  const parts: string[] = [formatChatbotNoteHeader(sessionId, isUsable(firstStart) ? firstStart : nowUnixSeconds)];
  let previousBin = 0;
  for (let k = 0; k < starts.length; k++) {
    const i = order === null ? k : (order[k] ?? k);
    let separator = k > 0 ? "\n" : "";
    if (binSeconds > 0) {
      const bin = Math.floor(sortKey(starts[i]) / binSeconds);
      if (k > 0 && bin !== previousBin) separator = "\n\n";
      previousBin = bin;
    }
    parts.push(separator, linePrefix(k + 1), oneLine(descriptions[i] ?? ""));
  }
  return parts.join("");
}

/** `[n] ` for the first line numbers, made once (every note starts at 1). */
const PREFIXES: string[] = [];
const PREFIXES_KEPT = 1024;

function linePrefix(n: number): string {
  if (n > PREFIXES_KEPT) return `[${n}] `;
  return (PREFIXES[n] ??= `[${n}] `);
}

// CR, LF, U+2028 and U+2029: any of them would let a description forge its own `[n] …` line.
const LINE_BREAKS = /\r\n|[\r\n\u2028\u2029]/g;
const HAS_LINE_BREAK = /[\r\n\u2028\u2029]/;

/** A description as one line: every line break (CRLF counts once) becomes one space (SPEC §3). */
export function oneLine(description: string): string {
  return HAS_LINE_BREAK.test(description) ? description.replace(LINE_BREAKS, " ") : description;
}

/** A summary note: the header at `nowUnixSeconds` followed by the summary prose, unchanged. */
export function formatSummaryNote(
  sessionId: string | null | undefined,
  summary: string,
  nowUnixSeconds: number = Date.now() / 1000,
): string {
  return formatChatbotNoteHeader(sessionId, nowUnixSeconds) + summary;
}

function isUsable(t: number | undefined): t is number {
  return typeof t === "number" && t >= -MAX_DATE_SECONDS && t <= MAX_DATE_SECONDS;
}

function sortKey(t: number | undefined): number {
  return isUsable(t) ? t : 0;
}

/**
 * Rendering order as indices into `starts`, or null when they are already non-decreasing (the
 * common case: actions arrive in time order), which spares the allocation and the sort.
 */
function sortedOrder(starts: readonly number[]): number[] | null {
  let previous = sortKey(starts[0]);
  let sorted = true;
  for (let i = 1; i < starts.length && sorted; i++) {
    const key = sortKey(starts[i]);
    sorted = key >= previous;
    previous = key;
  }
  if (sorted) return null;
  const keys = Float64Array.from(starts, sortKey);
  const order = Array.from(keys, (_, i) => i);
  // The index tie-break makes stability explicit rather than relying on the engine's sort.
  return order.sort((a, b) => (keys[a] ?? 0) - (keys[b] ?? 0) || a - b);
}
