/**
 * Lenient, safe readers for the connector's wire payloads (SPEC §2).
 *
 * Lenient where the SPEC is: a missing, null or empty field falls back to its empty value, a
 * numeric string is read as a number (NaN as 0), a number is read as text, and an `actions` item
 * that is not an object or array is dropped with a warning.
 * Strict where leniency would lose data silently: a wrong container (`actions` that is not an
 * array, an action item that is an array) or a value that cannot be coerced (an object, array or
 * boolean where a string or number belongs) is a {@link PayloadFieldError} naming the field's path,
 * e.g. `actions[3].timestamp_start`.
 * Safe: the body is size- and depth-checked, and results are built field by field from known keys,
 * so nothing from the input (`__proto__` included) is ever copied wholesale into our objects.
 */
import { PayloadError } from "../errors.js";
import type { ActionsPayload, Payload, SlimAction, SummaryPayload } from "./types.js";

/** Options of every payload parser. */
export interface ParseOptions {
  /**
   * Largest accepted body, in UTF-8 bytes. Strings and buffers are measured exactly; an
   * already-decoded value is measured by a cheap lower-bound estimate of its JSON size.
   * @default 1_048_576 (1 MiB)
   */
  maxBytes?: number;
  /** Deepest accepted nesting of arrays and objects (the body object itself is level 1). @default 32 */
  maxDepth?: number;
  /** Receives recoverable oddities: a corrected `count`, dropped items. Errors it throws are ignored. @default no-op */
  onWarning?: (message: string) => void;
}

type Warn = ((message: string) => void) | undefined;

/** A payload field of the wrong type; `field` is its path in the body, e.g. `actions[3].timestamp_start`. */
export class PayloadFieldError extends PayloadError {
  readonly field: string;

  constructor(field: string, expected: string, got: unknown) {
    super(`${field} must be ${expected}, got ${describe(got)}`);
    this.field = field;
  }
}
type JsonObject = Record<string, unknown>;

const DEFAULT_MAX_BYTES = 1_048_576;
const DEFAULT_MAX_DEPTH = 32;
const OPTIONAL_ACTION_IDS = ["session_id", "user_id", "email", "conversation_id"] as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads an `actions` payload. A body without `type` (or with an empty one) is accepted as actions;
 * any other `type` is a {@link PayloadError}, as is a body that is not a JSON object.
 */
export function parseActionsPayload(raw: unknown, options?: ParseOptions): ActionsPayload {
  const limits = resolveLimits(options);
  try {
    const body = decodeBody(raw, limits);
    assertType(body, "actions");
    return readActions(body, options?.onWarning);
  } catch (err) {
    throw asPayloadError(err);
  }
}

/** Reads a `summary` payload; the `type` rules mirror {@link parseActionsPayload}. */
export function parseSummaryPayload(raw: unknown, options?: ParseOptions): SummaryPayload {
  const limits = resolveLimits(options);
  try {
    const body = decodeBody(raw, limits);
    assertType(body, "summary");
    return readSummary(body);
  } catch (err) {
    throw asPayloadError(err);
  }
}

/**
 * Reads any payload, discriminated on `type`. Returns `null` for a type this library does not
 * know (SPEC §2: ignore it). A body without `type` is read as actions, like
 * {@link parseActionsPayload}, so an untyped batch is never silently lost.
 */
export function parsePayload(raw: unknown, options?: ParseOptions): Payload | null {
  const limits = resolveLimits(options);
  try {
    const body = decodeBody(raw, limits);
    const type = own(body, "type");
    if (type === "summary") return readSummary(body);
    if (type === "actions" || isAbsent(type)) return readActions(body, options?.onWarning);
    return null;
  } catch (err) {
    throw asPayloadError(err);
  }
}

/**
 * Reads one already-decoded action; `null` when it is not a plain object. The optional ids are
 * present in the result only when present in the input.
 * @throws PayloadFieldError when a field cannot be coerced (e.g. `action.timestamp_start` an object)
 */
export function parseSlimAction(raw: unknown): SlimAction | null {
  return isPlainObject(raw) ? readAction(raw, "action") : null;
}

interface Limits {
  maxBytes: number;
  maxDepth: number;
}

const DEFAULT_LIMITS: Limits = { maxBytes: DEFAULT_MAX_BYTES, maxDepth: DEFAULT_MAX_DEPTH };

// Options errors are the developer's bug, not the sender's: TypeError, not PayloadError.
function resolveLimits(options: ParseOptions | undefined): Limits {
  if (options?.maxBytes === undefined && options?.maxDepth === undefined) return DEFAULT_LIMITS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (typeof maxBytes !== "number" || !(maxBytes >= 0)) {
    throw new TypeError(`maxBytes must be a number >= 0, got ${String(maxBytes)}`);
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    throw new TypeError(`maxDepth must be an integer >= 1, got ${String(maxDepth)}`);
  }
  return { maxBytes, maxDepth };
}

function decodeBody(raw: unknown, limits: Limits): JsonObject {
  let value: unknown;
  // Text was measured exactly, so only a decoded value needs the walk's size estimate.
  let budget = Infinity;
  if (typeof raw === "string") {
    checkTextSize(raw, limits.maxBytes);
    value = parseJson(raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw);
  } else if (raw instanceof Uint8Array) {
    checkSize(raw.byteLength, limits.maxBytes);
    value = parseJson(decodeUtf8(raw));
  } else {
    value = raw;
    budget = limits.maxBytes;
  }
  if (!isPlainObject(value)) throw new PayloadError(`body must be a JSON object, got ${describe(value)}`);
  checkShape(value, limits.maxDepth, budget);
  return value;
}

function checkTextSize(text: string, maxBytes: number): void {
  // UTF-8 needs 1–3 bytes per UTF-16 unit, so the exact count is needed only in between.
  if (text.length > maxBytes) checkSize(text.length, maxBytes);
  else if (text.length * 3 > maxBytes) checkSize(Buffer.byteLength(text, "utf8"), maxBytes);
}

function checkSize(bytes: number, maxBytes: number): void {
  if (bytes > maxBytes) {
    throw new PayloadError(`body is larger than ${maxBytes} bytes`, { tooLarge: true });
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new PayloadError("body is not valid UTF-8", { cause: err });
  }
}

function parseJson(text: string): unknown {
  try {
    // No reviver needed: JSON.parse defines `__proto__` as a plain own key, and we only ever
    // read known keys, so it can neither pollute a prototype nor reach a result object.
    return JSON.parse(text);
  } catch (err) {
    // A RangeError would come from an engine whose parser recurses: report it as depth.
    const detail = err instanceof SyntaxError ? err.message : "it is nested too deeply to decode";
    throw new PayloadError(`body is not valid JSON: ${detail}`, { cause: err });
  }
}

/**
 * Iterative walk (no recursion, so no stack overflow) enforcing `maxDepth`, and `budget` bytes by
 * a lower-bound JSON size estimate. A cyclic value fails the depth check; a shared one counts each
 * time it is reached, as JSON.stringify would, so the walk is bounded by the budget.
 */
function checkShape(root: JsonObject, maxDepth: number, budget: number): void {
  const nodes: object[] = [root];
  const depths: number[] = [1];
  let bytes = 0;
  for (let node = nodes.pop(); node !== undefined; node = nodes.pop()) {
    const depth = depths.pop() ?? 1;
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    bytes += 2 + children.length;
    if (!Array.isArray(node)) for (const key of Object.keys(node)) bytes += key.length + 3;
    for (const child of children) {
      if (typeof child === "object" && child !== null) {
        if (depth >= maxDepth) throw new PayloadError(`body is nested deeper than ${maxDepth} levels`);
        nodes.push(child);
        depths.push(depth + 1);
      } else {
        bytes += typeof child === "string" ? child.length : 1;
      }
    }
    if (bytes > budget) {
      throw new PayloadError(`body is larger than ${budget} bytes (estimated)`, { tooLarge: true });
    }
  }
}

function assertType(body: JsonObject, expected: "actions" | "summary"): void {
  const type = own(body, "type");
  if (type !== expected && !isAbsent(type)) {
    throw new PayloadError(`expected type "${expected}", got ${describe(type)}`);
  }
}

function readActions(body: JsonObject, warn: Warn): ActionsPayload {
  const sessionId = optionalString(own(body, "session_id"), "session_id");
  const list = own(body, "actions");
  const actions: SlimAction[] = [];
  if (Array.isArray(list)) {
    let dropped = 0;
    (list as unknown[]).forEach((item, i) => {
      if (isPlainObject(item)) actions.push(readAction(item, `actions[${i}]`));
      else if (Array.isArray(item) || (typeof item === "object" && item !== null)) throw new PayloadFieldError(`actions[${i}]`, "an object", item);
      else dropped++;
    });
    if (dropped > 0) emit(warn, `${where(sessionId)}: dropped ${dropped} action item(s) that were not objects`);
  } else if (list !== undefined) {
    // null included: a sender that means "no actions" sends [] or nothing.
    throw new PayloadFieldError("actions", "an array", list);
  }
  const count = own(body, "count");
  const stated = toInteger(count, "count");
  // A sender that states no count has nothing to disagree with, so only a stated one warns.
  if (!isAbsent(count) && stated !== actions.length) {
    emit(warn, `${where(sessionId)}: count ${stated} disagrees with ${actions.length} actions; using ${actions.length}`);
  }
  return {
    type: "actions",
    product_id: toText(own(body, "product_id"), "product_id"),
    session_id: sessionId,
    user_id: optionalString(own(body, "user_id"), "user_id"),
    email: optionalString(own(body, "email"), "email"),
    actions,
    count: actions.length,
    forwarded_at: toNumber(own(body, "forwarded_at"), "forwarded_at"),
    conversation_id: optionalString(own(body, "conversation_id"), "conversation_id"),
  };
}

function where(sessionId: string | null): string {
  return `actions payload for session ${sessionId ?? "unknown"}`;
}

function readSummary(body: JsonObject): SummaryPayload {
  return {
    type: "summary",
    product_id: toText(own(body, "product_id"), "product_id"),
    session_id: optionalString(own(body, "session_id"), "session_id"),
    summary: toText(own(body, "summary"), "summary"),
    replaces: toInteger(own(body, "replaces"), "replaces"),
    forwarded_at: toNumber(own(body, "forwarded_at"), "forwarded_at"),
  };
}

/** The fields whose defaulting dedupe must know about: "present" is not "defaulted". */
export type IdentityField = "index" | "timestamp_start";

/**
 * Actions whose `index` / `timestamp_start` was missing or unusable on the wire and was defaulted
 * to 0 (or, for `index`, re-assigned by a merge): dedupe must not key on a value nobody sent.
 */
const defaultedIndex = new WeakSet<object>();
const defaultedStart = new WeakSet<object>();

/** Whether the parser defaulted this action's `field` (either field when omitted): it was not really sent. */
export function wasDefaulted(action: object, field?: IdentityField): boolean {
  if (field === "index") return defaultedIndex.has(action);
  if (field === "timestamp_start") return defaultedStart.has(action);
  return defaultedIndex.has(action) || defaultedStart.has(action);
}

/**
 * Carries `source`'s defaulted marks to `copy`: for code that copies parsed actions field by field
 * (merging batches, parsing an already parsed payload again) and must keep what was really sent.
 */
export function keepDefaulted(source: object, copy: object): void {
  if (defaultedIndex.has(source)) defaultedIndex.add(copy);
  if (defaultedStart.has(source)) defaultedStart.add(copy);
}

/** Marks a field (both when omitted) as assigned here rather than sent, e.g. an index re-assigned by a merge. */
export function markDefaulted(action: object, field?: IdentityField): void {
  if (field !== "timestamp_start") defaultedIndex.add(action);
  if (field !== "index") defaultedStart.add(action);
}

function readAction(item: JsonObject, path = "action"): SlimAction {
  const action: SlimAction = {
    index: toInteger(own(item, "index"), `${path}.index`),
    type: toText(own(item, "type"), `${path}.type`),
    title: toText(own(item, "title"), `${path}.title`),
    description: toText(own(item, "description"), `${path}.description`),
    canonical_url: toText(own(item, "canonical_url"), `${path}.canonical_url`),
    raw_url: toText(own(item, "raw_url"), `${path}.raw_url`),
    timestamp_start: toNumber(own(item, "timestamp_start"), `${path}.timestamp_start`),
    timestamp_end: toNumber(own(item, "timestamp_end"), `${path}.timestamp_end`),
  };
  for (const key of OPTIONAL_ACTION_IDS) {
    // `undefined` counts as absent, as it would after a JSON round trip.
    const value = own(item, key);
    if (value !== undefined) action[key] = optionalString(value, `${path}.${key}`);
  }
  keepDefaulted(item, action);
  if (!isUsableNumber(own(item, "index"))) defaultedIndex.add(action);
  if (!isUsableNumber(own(item, "timestamp_start"))) defaultedStart.add(action);
  return action;
}

// Own keys only: an inherited (possibly polluted) property must not look like input.
function own(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

// Text is a string or a finite number; absent is "". Objects, arrays and booleans mean a broken
// sender: refused, never stringified to "[object Object]" / "true".
function toText(value: unknown, field: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (value === undefined || value === null) return "";
  throw new PayloadFieldError(field, "a string", value);
}

function optionalString(value: unknown, field: string): string | null {
  const text = toText(value, field);
  return text === "" ? null : text;
}

// A number or a numeric string; absent, NaN and ±Infinity are 0 (SPEC §2).
function toNumber(value: unknown, field: string): number {
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "string") n = Number(value);
  else if (value === undefined || value === null) n = 0;
  else throw new PayloadFieldError(field, "a number or a numeric string", value);
  // `|| 0` also folds -0 into 0, so a re-serialised payload reads back identical.
  return Number.isFinite(n) ? n || 0 : 0;
}

function isUsableNumber(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value));
}

function toInteger(value: unknown, field: string): number {
  return Math.trunc(toNumber(value, field)) || 0;
}

function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return value.length > 40 ? `a string ${JSON.stringify(value.slice(0, 40))}…` : `a string ${JSON.stringify(value)}`;
  }
  if (typeof value === "object") return isPlainObject(value) ? "an object" : "a non-plain object";
  return typeof value === "undefined" ? "nothing" : `a ${typeof value}`;
}

function emit(warn: Warn, message: string): void {
  if (warn === undefined) return;
  try {
    warn(message);
  } catch {
    // A failing log sink must not turn a readable payload into a rejected one.
  }
}

// The HTTP layer maps PayloadError to 4xx; anything else escaping would become a 500.
function asPayloadError(err: unknown): PayloadError {
  if (err instanceof PayloadError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new PayloadError(`body could not be read: ${detail}`, { cause: err });
}
