import { SessionState, type SessionStateRestoreOptions } from "../session/session-state.js";
import { requireDurationMs, requireNonEmptyString } from "../session/validation.js";
import { ExpiringMap } from "./expiring-map.js";
import type { SessionStateStore } from "./types.js";

/** Default time to live of a stored session, in ms (24 h, as in SPEC §6). */
export const DEFAULT_SESSION_TTL_MS = 86_400_000;

/** Options of {@link InMemorySessionStateStore}. */
export interface InMemorySessionStateStoreOptions {
  /** Time to live of a session, in ms, refreshed by every save. @default 86_400_000 (24 h) */
  ttlMs?: number;
  /** Wall clock in epoch ms, used for expiry and given to the states this store creates. @default Date.now */
  now?: () => number;
  /** Timeout and cooldown defaults of the states this store creates or loads. @default the SessionState defaults */
  sessionDefaults?: Pick<SessionStateRestoreOptions, "interactionTimeoutMs" | "cooldownMs">;
}

/**
 * The default {@link SessionStateStore}: one process, lost on restart. It keeps each session's
 * JSON snapshot rather than the object, so it behaves like the Redis store: only `save()`
 * persists, and every read returns a fresh object. Construction does no I/O and starts no timer.
 */
export class InMemorySessionStateStore implements SessionStateStore {
  readonly #entries: ExpiringMap<string>;
  readonly #restore: SessionStateRestoreOptions;
  #closed = false;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: InMemorySessionStateStoreOptions = {}) {
    const now = options.now ?? Date.now;
    this.#entries = new ExpiringMap({ ttlMs: options.ttlMs ?? DEFAULT_SESSION_TTL_MS, now });
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

  async get(sessionId: string): Promise<SessionState | null> {
    this.#assertOpen();
    const json = this.#entries.get(requireNonEmptyString("sessionId", sessionId));
    return json === undefined ? null : SessionState.fromJSON(json, this.#restore);
  }

  async getOrCreate(sessionId: string): Promise<SessionState> {
    return (await this.get(sessionId)) ?? new SessionState({ ...this.#restore, sessionId });
  }

  async save(state: SessionState): Promise<void> {
    this.#assertOpen();
    if (!(state instanceof SessionState)) throw new TypeError("save() expects a SessionState");
    this.#entries.set(state.sessionId, JSON.stringify(state));
  }

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
