import { InvalidTransitionError } from "../errors.js";
import { AgentState } from "./agent-state.js";
import { ConversationEventType, isConversationEventType } from "./conversation-event.js";
import { MAX_PREVIOUS_CONVERSATIONS, SESSION_SNAPSHOT_VERSION, type SessionSnapshot, parseSessionSnapshot } from "./session-snapshot.js";
import { copyStoreTokens } from "./store-token.js";
import { applyTransition } from "./transitions.js";
import { copyRecord, invalidOption, requireDurationMs, requireFunction, requireNonEmptyString } from "./validation.js";

/** Options of {@link SessionState}. */
export interface SessionStateOptions {
  /** The PostHog session id: required, non-empty, never changes. */
  sessionId: string;
  /** Wall clock in epoch milliseconds; the only clock the state reads. @default Date.now */
  now?: () => number;
  /** Quiet time, in ms, after which `tick()` leaves PROACTIVE/REACTIVE. @default 20_000 */
  interactionTimeoutMs?: number;
  /** How long, in ms, proactive help is refused after `tick()` returned to THINKING. @default 60_000 */
  cooldownMs?: number;
  /** Open record of identity and extras (user_id, email, …); shallow-copied. @default {} */
  metadata?: Record<string, unknown>;
}

/** Process configuration used when reviving a snapshot (the snapshot does not carry it). */
export type SessionStateRestoreOptions = Pick<SessionStateOptions, "now" | "interactionTimeoutMs" | "cooldownMs">;

/** Per-tour replacements of the session defaults, in ms, active while the tour runs. */
export interface TourOverrides {
  interactionTimeoutMs?: number;
  cooldownMs?: number;
}

/** Why proactive help may or may not be delivered now; stable codes. */
export type ProactiveDeliveryCheck =
  | { ok: true; reason: "ok" }
  | { ok: false; reason: "wrong_state" | "cooldown_active" | "not_linked" };

/** Default quiet time before `tick()` returns to THINKING, in ms. */
export const DEFAULT_INTERACTION_TIMEOUT_MS = 20_000;
/** Default cooldown after a timeout, in ms. */
export const DEFAULT_COOLDOWN_MS = 60_000;

const GUIDANCE = "visual_guidance";

/**
 * One session's source of truth (SPEC §5): identity, conversation link and the assistance FSM.
 * All times are wall-clock epoch milliseconds read from the injected `now`, so a snapshot taken by
 * one process stays correct when another process (with its own clock) resumes it.
 */
export class SessionState {
  /** The PostHog session id. */
  readonly sessionId: string;
  /** Open record of identity and extras; persisted as is (keep it JSON). */
  metadata: Record<string, unknown>;

  readonly #now: () => number;
  readonly #interactionTimeoutMs: number;
  readonly #cooldownMs: number;
  #state: AgentState = AgentState.THINKING;
  #conversationId: string | null = null;
  /** Conversations linked before the current one, oldest first; null when not recorded (an older snapshot). */
  #previousConversationIds: string[] | null = [];
  #triggerId: string | null = null;
  #optionClicked = false;
  #guidanceActive = false;
  #tourId: string | null = null;
  #tourOverrides: TourOverrides | null = null;
  #lastInteractionAtMs: number;
  #cooldownUntilMs: number | null = null;
  #createdAtMs: number;
  #updatedAtMs: number;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: SessionStateOptions) {
    this.sessionId = requireNonEmptyString("sessionId", options.sessionId);
    this.#now = requireFunction<() => number>("now", options.now ?? Date.now);
    this.#interactionTimeoutMs = requireDurationMs("interactionTimeoutMs", options.interactionTimeoutMs ?? DEFAULT_INTERACTION_TIMEOUT_MS);
    this.#cooldownMs = requireDurationMs("cooldownMs", options.cooldownMs ?? DEFAULT_COOLDOWN_MS);
    this.metadata = copyRecord("metadata", options.metadata ?? {});
    const now = this.#clock();
    this.#lastInteractionAtMs = now;
    this.#createdAtMs = now;
    this.#updatedAtMs = now;
  }

  /** Whether a conversation is linked: the permanent delivery target once set. */
  get conversationLinked(): boolean {
    return this.#conversationId !== null;
  }
  /** The linked conversation id, or null. */
  get conversationId(): string | null {
    return this.#conversationId;
  }
  /**
   * Conversations this session was linked to before, oldest first (bounded); null when the state
   * was revived from a snapshot that did not record them.
   */
  get previousConversationIds(): readonly string[] | null {
    return this.#previousConversationIds;
  }

  /**
   * Whether this session is or ever was linked to `conversationId`. True when that is unknown
   * (a state revived from an older snapshot), so callers err on the side of "existing".
   */
  knowsConversation(conversationId: string): boolean {
    return this.#conversationId === conversationId || this.#previousConversationIds === null || this.#previousConversationIds.includes(conversationId);
  }

  /** The FSM state. */
  get currentState(): AgentState {
    return this.#state;
  }
  /** The trigger that started the current proactive episode; null outside PROACTIVE. */
  get triggerId(): string | null {
    return this.#triggerId;
  }
  /** Whether the user clicked an option during the current proactive episode. */
  get optionClicked(): boolean {
    return this.#optionClicked;
  }
  /** Whether visual guidance (a tour) is showing. */
  get visualGuidanceActive(): boolean {
    return this.#guidanceActive;
  }
  /** The running tour's id, or null. */
  get tourId(): string | null {
    return this.#tourId;
  }
  /** When the state last changed (or was marked updated), epoch ms. */
  get updatedAtMs(): number {
    return this.#updatedAtMs;
  }

  /** Marks the state updated now without changing it (lets a caller refresh a stored TTL). */
  markUpdated(): void {
    this.#updatedAtMs = this.#clock();
  }

  /**
   * THINKING → PROACTIVE. Returns false, changing nothing, while a cooldown is active.
   * @throws InvalidTransitionError from PROACTIVE or REACTIVE.
   */
  transitionToProactive(triggerId: string): boolean {
    requireNonEmptyString("triggerId", triggerId);
    const next = applyTransition(this.#state, AgentState.PROACTIVE);
    if (this.isCooldownActive()) return false;
    this.#enter(next);
    this.#triggerId = triggerId;
    return true;
  }

  /**
   * THINKING → REACTIVE: the user asked, so it is always allowed and clears any cooldown.
   * @throws InvalidTransitionError from PROACTIVE or REACTIVE.
   */
  transitionToReactive(): void {
    const next = applyTransition(this.#state, AgentState.REACTIVE);
    this.#cooldownUntilMs = null;
    this.#enter(next);
  }

  /**
   * The only way back to THINKING: in PROACTIVE/REACTIVE, when strictly more than the effective
   * interaction timeout has passed since the last interaction, returns to THINKING, ends visual
   * guidance and starts a cooldown (measured from now). Returns whether it transitioned.
   */
  tick(): boolean {
    if (this.#state === AgentState.THINKING) return false;
    const now = this.#clock();
    const timeoutMs = this.#tourOverrides?.interactionTimeoutMs ?? this.#interactionTimeoutMs;
    if (now - this.#lastInteractionAtMs <= timeoutMs) return false;
    const cooldownMs = this.#tourOverrides?.cooldownMs ?? this.#cooldownMs;
    this.#enter(applyTransition(this.#state, AgentState.THINKING), now);
    this.#cooldownUntilMs = now + cooldownMs;
    return true;
  }

  /** Any user activity: resets the interaction timer. */
  recordUserInteraction(): void {
    this.#touch();
  }
  /** The user clicked an offered option: in PROACTIVE also marks the episode as clicked. */
  recordOptionClick(): void {
    if (this.#state === AgentState.PROACTIVE) this.#optionClicked = true;
    this.#touch();
  }
  /** The user reacted to a message: resets the interaction timer. */
  recordReaction(): void {
    this.#touch();
  }
  /** The user advanced a tour: resets the interaction timer. */
  recordTourStep(): void {
    this.#touch();
  }

  /**
   * Starts (counts as an interaction) or ends visual guidance. `overrides` replace the session's
   * timeout and cooldown while this tour runs, including for the cooldown of the `tick()` that
   * ends it; they are ignored when `active` is false.
   * @throws InvalidTransitionError in THINKING; TypeError for a bad tour id or override.
   */
  setVisualGuidance(active: boolean, tourId?: string, overrides?: TourOverrides): void {
    if (this.#state === AgentState.THINKING) {
      throw new InvalidTransitionError(this.#state, GUIDANCE, "visual guidance needs proactive or reactive assistance");
    }
    if (!active) {
      this.#endGuidance();
      this.#updatedAtMs = this.#clock();
      return;
    }
    if (tourId !== undefined) requireNonEmptyString("tourId", tourId);
    this.#tourOverrides = overrides === undefined ? null : validateOverrides(overrides);
    this.#guidanceActive = true;
    this.#tourId = tourId ?? null;
    this.#touch();
  }

  /** Whether a cooldown is running (it ends exactly at its end time). */
  isCooldownActive(): boolean {
    return this.cooldownRemainingMs() > 0;
  }
  /** Milliseconds left in the cooldown, 0 when none. */
  cooldownRemainingMs(): number {
    return this.#cooldownUntilMs === null ? 0 : Math.max(0, this.#cooldownUntilMs - this.#clock());
  }

  /** Whether proactive help may be delivered now. Does not tick: callers tick first. */
  canDeliverProactive(): ProactiveDeliveryCheck {
    if (this.#state !== AgentState.THINKING) return { ok: false, reason: "wrong_state" };
    if (this.isCooldownActive()) return { ok: false, reason: "cooldown_active" };
    if (!this.conversationLinked) return { ok: false, reason: "not_linked" };
    return { ok: true, reason: "ok" };
  }

  /**
   * Applies a conversation event: NEW links and overwrites any earlier id; REPLY_EXISTING links
   * only an unlinked session. Returns whether anything changed.
   * @throws TypeError for an empty id or an unknown event type.
   */
  onConversationLinked(conversationId: string, eventType: ConversationEventType): boolean {
    requireNonEmptyString("conversationId", conversationId);
    if (!isConversationEventType(eventType)) invalidOption("eventType", "a ConversationEventType", eventType);
    if (this.#conversationId === conversationId) return false;
    if (eventType === ConversationEventType.REPLY_EXISTING && this.#conversationId !== null) return false;
    this.#remember(this.#conversationId);
    if (this.#previousConversationIds !== null) this.#previousConversationIds = this.#previousConversationIds.filter((id) => id !== conversationId);
    this.#conversationId = conversationId;
    this.#updatedAtMs = this.#clock();
    return true;
  }

  /**
   * Clears the link, but only while it still points at `conversationId` (e.g. that conversation
   * was deleted on the platform): a session linked elsewhere meanwhile is left alone. The
   * session's later actions are then pre-link actions until a new link. Returns whether it changed.
   * @throws TypeError for an empty id.
   */
  unlinkConversation(conversationId: string): boolean {
    requireNonEmptyString("conversationId", conversationId);
    if (this.#conversationId !== conversationId) return false;
    this.#remember(conversationId);
    this.#conversationId = null;
    this.#updatedAtMs = this.#clock();
    return true;
  }

  /** The persisted form (see {@link SessionSnapshot}); `JSON.stringify(state)` uses it. */
  toJSON(): SessionSnapshot {
    const o = this.#tourOverrides;
    const snapshot: SessionSnapshot = {
      version: SESSION_SNAPSHOT_VERSION,
      session_id: this.sessionId,
      metadata: { ...this.metadata },
      conversation_linked: this.conversationLinked,
      conversation_id: this.#conversationId,
      current_state: this.#state,
      trigger_id: this.#triggerId,
      option_clicked: this.#optionClicked,
      visual_guidance_active: this.#guidanceActive,
      tour_id: this.#tourId,
      tour_overrides: o && { interaction_timeout_ms: o.interactionTimeoutMs ?? null, cooldown_ms: o.cooldownMs ?? null },
      last_interaction_at_ms: this.#lastInteractionAtMs,
      cooldown_until_ms: this.#cooldownUntilMs,
      created_at_ms: this.#createdAtMs,
      updated_at_ms: this.#updatedAtMs,
    };
    if (this.#previousConversationIds !== null) snapshot.previous_conversation_ids = [...this.#previousConversationIds];
    return snapshot;
  }

  /**
   * Revives a snapshot (the object or its JSON text) with this process's clock and defaults.
   * @throws TypeError when the snapshot is malformed or of an unknown version.
   */
  static fromJSON(json: unknown, options: SessionStateRestoreOptions = {}): SessionState {
    const snap = parseSessionSnapshot(json);
    const state = new SessionState({ ...options, sessionId: snap.session_id, metadata: snap.metadata });
    state.#restore(snap);
    return state;
  }

  /**
   * An independent copy, exactly what a save and a load would give back. A store that loaded (or
   * saved) this object accepts a save of the copy as it would of the original.
   */
  clone(): SessionState {
    const options = { now: this.#now, interactionTimeoutMs: this.#interactionTimeoutMs, cooldownMs: this.#cooldownMs };
    const copy = SessionState.fromJSON(JSON.stringify(this), options);
    copyStoreTokens(this, copy);
    return copy;
  }

  #restore(snap: SessionSnapshot): void {
    const o = snap.tour_overrides;
    this.#state = snap.current_state;
    this.#conversationId = snap.conversation_id;
    this.#previousConversationIds = snap.previous_conversation_ids === undefined ? null : [...snap.previous_conversation_ids];
    this.#triggerId = snap.trigger_id;
    this.#optionClicked = snap.option_clicked;
    this.#guidanceActive = snap.visual_guidance_active;
    this.#tourId = snap.tour_id;
    this.#tourOverrides = o && { interactionTimeoutMs: o.interaction_timeout_ms ?? undefined, cooldownMs: o.cooldown_ms ?? undefined };
    this.#lastInteractionAtMs = snap.last_interaction_at_ms;
    this.#cooldownUntilMs = snap.cooldown_until_ms;
    this.#createdAtMs = snap.created_at_ms;
    this.#updatedAtMs = snap.updated_at_ms;
  }

  /** Enters `state`: a fresh episode, so per-episode fields reset and the timer restarts. */
  #enter(state: AgentState, now = this.#clock()): void {
    this.#state = state;
    this.#triggerId = null;
    this.#optionClicked = false;
    this.#endGuidance();
    this.#lastInteractionAtMs = now;
    this.#updatedAtMs = now;
  }

  /** Records a conversation this session leaves (bounded, each id once, most recent last). */
  #remember(conversationId: string | null): void {
    if (conversationId === null || this.#previousConversationIds === null) return;
    const ids = this.#previousConversationIds.filter((id) => id !== conversationId);
    ids.push(conversationId);
    this.#previousConversationIds = ids.slice(-MAX_PREVIOUS_CONVERSATIONS);
  }

  #endGuidance(): void {
    this.#guidanceActive = false;
    this.#tourId = null;
    this.#tourOverrides = null;
  }

  #touch(): void {
    const now = this.#clock();
    this.#lastInteractionAtMs = now;
    this.#updatedAtMs = now;
  }

  /** Reads the injected clock; a broken clock would silently corrupt every timer, so it throws. */
  #clock(): number {
    const now = this.#now();
    if (typeof now !== "number" || !Number.isFinite(now)) invalidOption("now()", "finite epoch milliseconds", now);
    return now;
  }
}

function validateOverrides(overrides: TourOverrides): TourOverrides {
  const result: TourOverrides = {};
  if (overrides.interactionTimeoutMs !== undefined) {
    result.interactionTimeoutMs = requireDurationMs("overrides.interactionTimeoutMs", overrides.interactionTimeoutMs);
  }
  if (overrides.cooldownMs !== undefined) result.cooldownMs = requireDurationMs("overrides.cooldownMs", overrides.cooldownMs);
  return result;
}
