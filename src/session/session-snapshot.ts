import { type AgentState, isAgentState } from "./agent-state.js";
import { describeValue, isPlainObject } from "./validation.js";

/** The snapshot format version written by {@link SessionState.toJSON}. */
export const SESSION_SNAPSHOT_VERSION = 1;

/** Per-tour overrides as persisted; `null` means "use the session default". */
export interface TourOverridesSnapshot {
  interaction_timeout_ms: number | null;
  cooldown_ms: number | null;
}

/**
 * The persisted form of a `SessionState` (SPEC §5): snake_case keys, a version, and every time as
 * wall-clock epoch milliseconds (`_ms` keys), so another process with its own clock can resume it.
 * Timeout and cooldown *defaults* are process configuration and are not persisted.
 */
export interface SessionSnapshot {
  version: typeof SESSION_SNAPSHOT_VERSION;
  session_id: string;
  metadata: Record<string, unknown>;
  conversation_linked: boolean;
  conversation_id: string | null;
  current_state: AgentState;
  /** The trigger of the current proactive episode; null outside PROACTIVE. */
  trigger_id: string | null;
  option_clicked: boolean;
  visual_guidance_active: boolean;
  tour_id: string | null;
  tour_overrides: TourOverridesSnapshot | null;
  /** Epoch ms of the last interaction (or of entering the current state). */
  last_interaction_at_ms: number;
  /** Epoch ms at which the cooldown ends; null when none was started. */
  cooldown_until_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
  /**
   * Conversations this session was linked to before its current one (or before it was unlinked),
   * oldest first, at most {@link MAX_PREVIOUS_CONVERSATIONS}. Optional and additive, so version 1
   * readers ignore it; absent means "not recorded" (a snapshot written before it existed).
   */
  previous_conversation_ids?: string[];
}

/** How many earlier conversation ids a snapshot keeps. */
export const MAX_PREVIOUS_CONVERSATIONS = 16;

/** Metadata nesting deeper than this is rejected rather than risking a stack overflow. */
const MAX_METADATA_DEPTH = 32;

function invalid(what: string, expected: string, got: unknown): never {
  throw new TypeError(`invalid session snapshot: ${what} must be ${expected}, got ${describeValue(got)}`);
}

/** Reads own properties only, so nothing inherited (or planted on a prototype) is trusted. */
function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: Record<string, unknown>, key: string, orNull = ""): string {
  const value = own(obj, key);
  if (typeof value !== "string" || value === "") invalid(key, `a non-empty string${orNull}`, value);
  return value;
}

function strOrNull(obj: Record<string, unknown>, key: string): string | null {
  return own(obj, key) === null ? null : str(obj, key, " or null");
}

function num(obj: Record<string, unknown>, key: string, orNull = ""): number {
  const value = own(obj, key);
  if (typeof value !== "number" || !Number.isFinite(value)) invalid(key, `a finite number${orNull}`, value);
  return value;
}

function numOrNull(obj: Record<string, unknown>, key: string): number | null {
  return own(obj, key) === null ? null : num(obj, key, " or null");
}

function bool(obj: Record<string, unknown>, key: string): boolean {
  const value = own(obj, key);
  if (typeof value !== "boolean") invalid(key, "a boolean", value);
  return value;
}

/** A deep copy of a JSON value; non-JSON values are rejected and `__proto__` keys dropped. */
function copyJson(value: unknown, path: string, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : invalid(path, "a finite number", value);
  if (depth >= MAX_METADATA_DEPTH) invalid(path, `nested at most ${MAX_METADATA_DEPTH} levels`, value);
  if (Array.isArray(value)) return value.map((item: unknown, i) => copyJson(item, `${path}[${i}]`, depth + 1));
  if (!isPlainObject(value)) invalid(path, "a JSON value", value);
  const copy: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key !== "__proto__") copy[key] = copyJson(entry, `${path}.${key}`, depth + 1);
  }
  return copy;
}

function previousConversations(obj: Record<string, unknown>): string[] | undefined {
  const value = own(obj, "previous_conversation_ids");
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) invalid("previous_conversation_ids", "an array of non-empty strings", value);
  const ids = value.map((id: unknown, i) => (typeof id === "string" && id !== "" ? id : invalid(`previous_conversation_ids[${i}]`, "a non-empty string", id)));
  return ids.slice(-MAX_PREVIOUS_CONVERSATIONS);
}

function overrides(obj: Record<string, unknown>): TourOverridesSnapshot | null {
  const value = own(obj, "tour_overrides");
  if (value === null) return null;
  if (!isPlainObject(value)) invalid("tour_overrides", "an object or null", value);
  const result = { interaction_timeout_ms: numOrNull(value, "interaction_timeout_ms"), cooldown_ms: numOrNull(value, "cooldown_ms") };
  for (const [key, ms] of Object.entries(result)) {
    if (ms !== null && ms < 0) invalid(`tour_overrides.${key}`, ">= 0", ms);
  }
  return result;
}

function decode(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input);
  } catch (error) {
    throw new TypeError(`invalid session snapshot: not valid JSON (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Validates a snapshot (the object or its JSON text) and returns a fresh, fully typed copy.
 * Unknown top-level keys are ignored; an unknown `version` or any wrongly typed field is not.
 * @throws TypeError naming the offending field.
 */
export function parseSessionSnapshot(input: unknown): SessionSnapshot {
  const obj = decode(input);
  if (!isPlainObject(obj)) invalid("the snapshot", "a JSON object", obj);
  const version = own(obj, "version");
  if (version !== SESSION_SNAPSHOT_VERSION) invalid("version", `${SESSION_SNAPSHOT_VERSION} (the only supported version)`, version);
  const state = own(obj, "current_state");
  if (!isAgentState(state)) invalid("current_state", "an AgentState value", state);
  const metadata = own(obj, "metadata");
  if (!isPlainObject(metadata)) invalid("metadata", "an object", metadata);
  const snapshot: SessionSnapshot = {
    version,
    session_id: str(obj, "session_id"),
    metadata: copyJson(metadata, "metadata", 0) as Record<string, unknown>,
    conversation_linked: bool(obj, "conversation_linked"),
    conversation_id: strOrNull(obj, "conversation_id"),
    current_state: state,
    trigger_id: strOrNull(obj, "trigger_id"),
    option_clicked: bool(obj, "option_clicked"),
    visual_guidance_active: bool(obj, "visual_guidance_active"),
    tour_id: strOrNull(obj, "tour_id"),
    tour_overrides: overrides(obj),
    last_interaction_at_ms: num(obj, "last_interaction_at_ms"),
    cooldown_until_ms: numOrNull(obj, "cooldown_until_ms"),
    created_at_ms: num(obj, "created_at_ms"),
    updated_at_ms: num(obj, "updated_at_ms"),
  };
  const previous = previousConversations(obj);
  if (previous !== undefined) snapshot.previous_conversation_ids = previous;
  if (snapshot.conversation_linked !== (snapshot.conversation_id !== null)) {
    invalid("conversation_id", "set exactly when conversation_linked is true", snapshot.conversation_id);
  }
  return snapshot;
}
