/**
 * Wire shapes sent by the session-replay connector (SPEC §2). Keys stay snake_case, exactly as on
 * the wire, so a payload can be passed through unchanged.
 */

/** One user action: a page view, a click, a form submit… */
export interface SlimAction {
  /** 0-based position of the action in its session. */
  index: number;
  /** `pageview`, `click`, `submit`, … */
  type: string;
  title: string;
  description: string;
  canonical_url: string;
  raw_url: string;
  /** Unix seconds (float). */
  timestamp_start: number;
  /** Unix seconds (float). */
  timestamp_end: number;
  session_id?: string | null;
  user_id?: string | null;
  email?: string | null;
  conversation_id?: string | null;
}

/**
 * What the writer and the note formatter read of an action. Extra wire fields are allowed and
 * ignored; a missing or null `timestamp_start` / `description` is tolerated (SPEC §3).
 */
export interface NoteAction {
  /** The wire position in the session; with Redis delivery it makes a replayed action count once. */
  readonly index?: number | null;
  readonly description?: string | null;
  readonly timestamp_start?: number | null;
}

/** A batch of actions for one session. */
export interface ActionsPayload {
  type: "actions";
  product_id: string;
  session_id: string | null;
  user_id: string | null;
  email: string | null;
  actions: SlimAction[];
  count: number;
  /** Unix seconds. */
  forwarded_at: number;
  conversation_id: string | null;
}

/** The connector's own condensation of a session's actions. */
export interface SummaryPayload {
  type: "summary";
  product_id: string;
  session_id: string | null;
  summary: string;
  /** How many actions this summary condenses. */
  replaces: number;
  /** Unix seconds. */
  forwarded_at: number;
}

/** Any payload this library understands, discriminated on `type`. */
export type Payload = ActionsPayload | SummaryPayload;
