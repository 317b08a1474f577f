import { ConcurrentUpdateError } from "../errors.js";
import { SessionState, type SessionStateRestoreOptions } from "../session/session-state.js";
import { parseSessionSnapshot, type SessionSnapshot } from "../session/session-snapshot.js";
import { getStoreToken, setStoreToken } from "../session/store-token.js";
import { invalidOption, requireDurationMs, requireNonEmptyString } from "../session/validation.js";
import { ExpiringMap } from "./expiring-map.js";
import type { SessionStateStore, SessionStoreStats } from "./types.js";

/** Default time to live of a stored session, in ms (24 h, as in SPEC §6). */
export const DEFAULT_SESSION_TTL_MS = 86_400_000;
/** Default cap on sessions held by an {@link InMemorySessionStateStore} (about 1 KB each). */
export const DEFAULT_MAX_SESSIONS = 100_000;

/** Options of {@link InMemorySessionStateStore}. */
export interface InMemorySessionStateStoreOptions {
  /** Time to live of a session, in ms, refreshed by every save. @default 86_400_000 (24 h) */
  ttlMs?: number;
  /**
   * Time to live of a session saved while not linked to a conversation, in ms, refreshed by every
   * save: a never-linked session is useless once its pre-link window has passed. @default ttlMs
   */
  unlinkedTtlMs?: number;
  /** Most sessions held; beyond it the least recently used (read or saved) is evicted and counted. @default 100_000 */
  maxSessions?: number;
  /** Wall clock in epoch ms, used for expiry and given to the states this store creates. @default Date.now */
  now?: () => number;
  /** Timeout and cooldown defaults of the states this store creates or loads. @default the SessionState defaults */
  sessionDefaults?: Pick<SessionStateRestoreOptions, "interactionTimeoutMs" | "cooldownMs">;
}

interface StoredSession {
  /** The validated snapshot as saved; never handed out (every read copies it into a new state). */
  snapshot: SessionSnapshot;
  /** Unique per write: what a later compare-and-set save must have read. */
  writeId: number;
}

/**
 * The default {@link SessionStateStore}: one process, lost on restart. It keeps each session's
 * snapshot (taken through JSON) rather than the object, so it behaves like the Redis store: only `save()`
 * persists, every read returns a fresh object, and `save` is compare-and-set (a state read
 * before another save of its session, or not read at all while one is stored, throws
 * {@link ConcurrentUpdateError}). Bounded: never-linked sessions may expire sooner
 * (`unlinkedTtlMs`) and the count is capped (`maxSessions`, LRU). Construction does no I/O and
 * starts no timer.
 */
export class InMemorySessionStateStore implements SessionStateStore {
  /** Time to live of a session saved while unlinked, in ms (callers refresh such states in time). */
  readonly unlinkedTtlMs: number;
  readonly #entries: ExpiringMap<StoredSession>;
  readonly #ttlMs: number;
  readonly #restore: SessionStateRestoreOptions;
  readonly #token = Symbol("InMemorySessionStateStore");
  #nextWriteId = 1;
  #closed = false;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: InMemorySessionStateStoreOptions = {}) {
    const now = options.now ?? Date.now;
    this.#ttlMs = requireDurationMs("ttlMs", options.ttlMs ?? DEFAULT_SESSION_TTL_MS, true);
    this.unlinkedTtlMs = requireDurationMs("unlinkedTtlMs", options.unlinkedTtlMs ?? this.#ttlMs, true);
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isSafeInteger(maxSessions) || maxSessions <= 0) invalidOption("maxSessions", "a whole number > 0", maxSessions);
    this.#entries = new ExpiringMap({ ttlMs: this.#ttlMs, now, maxEntries: maxSessions });
    const defaults = options.sessionDefaults ?? {};
    this.#restore = { now };
    if (defaults.interactionTimeoutMs !== undefined) {
      this.#restore.interactionTimeoutMs = requireDurationMs("sessionDefaults.interactionTimeoutMs", defaults.interactionTimeoutMs);
    }
    if (defaults.cooldownMs !== undefined) {
      this.#restore.cooldownMs = requireDurationMs("sessionDefaults.cooldownMs", defaults.cooldownMs);
    }
  }

  /** Sessions held in memory, including expired ones the next sweep frees. */
  get size(): number {
    return this.#entries.size;
  }

  /** Counters for metrics (see {@link SessionStoreStats}). */
  stats(): SessionStoreStats {
    return { sessions: this.#entries.size, evicted: this.#entries.evicted, expired: this.#entries.expired };
  }

  async get(sessionId: string): Promise<SessionState | null> {
    this.#assertOpen();
    const stored = this.#entries.get(requireNonEmptyString("sessionId", sessionId));
    if (stored === undefined) return null;
    const state = SessionState.fromJSON(stored.snapshot, this.#restore);
    setStoreToken(state, this.#token, stored.writeId);
    return state;
  }

  async getOrCreate(sessionId: string): Promise<SessionState> {
    return (await this.get(sessionId)) ?? new SessionState({ ...this.#restore, sessionId });
  }

  /**
   * Stores the state's snapshot if the session is unchanged since this object (or the one it was
   * cloned from) was read or saved, and refreshes its time to live.
   * @throws ConcurrentUpdateError when the session changed, expired or was deleted meanwhile, or
   * exists while this object was never read: reload and re-apply.
   */
  async save(state: SessionState): Promise<void> {
    this.#assertOpen();
    if (!(state instanceof SessionState)) throw new TypeError("save() expects a SessionState");
    const seen = getStoreToken<number>(state, this.#token);
    const current = this.#entries.get(state.sessionId);
    if (current?.writeId !== seen) {
      const wanted = seen === undefined ? "no stored session" : "the session as it was read";
      const found = current === undefined ? "none (deleted or expired)" : "a newer save";
      throw new ConcurrentUpdateError(`session ${JSON.stringify(state.sessionId)}`, `expected ${wanted}, found ${found}`);
    }
    const writeId = this.#nextWriteId++;
    const ttlMs = state.conversationLinked ? this.#ttlMs : this.unlinkedTtlMs;
    // Through JSON once, as Redis would store it; reads then skip the text and only copy.
    this.#entries.set(state.sessionId, { snapshot: parseSessionSnapshot(JSON.stringify(state)), writeId }, ttlMs);
    setStoreToken(state, this.#token, writeId);
  }

  /** Forgets a session; state objects read before then can no longer be saved. */
  async delete(sessionId: string): Promise<void> {
    this.#assertOpen();
    this.#entries.delete(requireNonEmptyString("sessionId", sessionId));
  }

  /** Frees every expired session now; returns how many. The sweep timer does this periodically. */
  pruneExpired(): number {
    return this.#entries.pruneExpired();
  }

  /** Drops everything and stops the sweep; later calls reject. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("InMemorySessionStateStore is closed");
  }
}
