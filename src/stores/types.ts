import type { SessionState } from "../session/session-state.js";

/**
 * Where session states live between calls (SPEC §6). Implementations store a snapshot: a
 * mutation is persisted only by `save()`, and every read returns a fresh object.
 */
export interface SessionStateStore {
  /** The stored state, or null when there is none (or it expired). A read error must throw, never return null. */
  get(sessionId: string): Promise<SessionState | null>;
  /** The stored state, or a new THINKING state for `sessionId`; creating does not save. */
  getOrCreate(sessionId: string): Promise<SessionState>;
  /**
   * Persists the state's snapshot and refreshes its time to live. Compare-and-set: it throws
   * `ConcurrentUpdateError`, writing nothing, unless the stored session is the one this object
   * (or the object it was `clone()`d from) last read or saved; a state never read must find no
   * stored session. On that error, reload, re-apply the change and save again.
   */
  save(state: SessionState): Promise<void>;
  /** Forgets a session; deleting a missing one is not an error. */
  delete(sessionId: string): Promise<void>;
  /** Releases timers and connections the store owns; safe to call twice. */
  close?(): Promise<void>;
  /**
   * Set by a store that expires sessions saved while unlinked sooner than linked ones: that time
   * to live, in ms. The manager then re-saves an active unlinked session at least every half of it.
   */
  readonly unlinkedTtlMs?: number;
  /** Counters for metrics, for a store that keeps them (the in-memory store does). */
  stats?(): SessionStoreStats;
}

/** Counters of a session store, for metrics. */
export interface SessionStoreStats {
  /** Sessions held now (in memory: including expired ones the next sweep frees). */
  sessions: number;
  /** Sessions evicted because the store's count cap was reached (least recently used first), since start. */
  evicted: number;
  /** Sessions dropped because their time to live ran out, since start. */
  expired: number;
}

/** The result of {@link ConversationLinkStore.claim}: `owner` is the session that owns the conversation afterwards. */
export interface ConversationClaim {
  created: boolean;
  owner: string;
}

/** conversation id → owning session id (SPEC §6). */
export interface ConversationLinkStore {
  /** The owning session id, or null when the conversation is unknown (or its link expired). */
  get(conversationId: string): Promise<string | null>;
  /**
   * Atomically records conversationId → sessionId unless some session already owns it. A claim
   * by the current owner returns `created: false` and refreshes the link's time to live.
   */
  claim(conversationId: string, sessionId: string): Promise<ConversationClaim>;
  /** Forgets a link; deleting a missing one is not an error. */
  delete(conversationId: string): Promise<void>;
  /**
   * Atomically forgets the link only if `sessionId` owns it (e.g. its conversation is gone);
   * returns whether it did. A link owned by another session is left alone.
   */
  release(conversationId: string, sessionId: string): Promise<boolean>;
  /** Releases timers and connections the store owns; safe to call twice. */
  close?(): Promise<void>;
}
