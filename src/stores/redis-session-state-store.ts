import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConcurrentUpdateError } from "../errors.js";
import { type RedisCommands, RedisUnavailableError } from "../redis/commands.js";
import { RedisConnection } from "../redis/connection.js";
import { RedisScript } from "../redis/script.js";
import type { SessionSnapshot } from "../session/session-snapshot.js";
import { SessionState, type SessionStateRestoreOptions } from "../session/session-state.js";
import { getStoreToken, setStoreToken } from "../session/store-token.js";
import { invalidOption, isPlainObject, requireDurationMs, requireFunction, requireNonEmptyString } from "../session/validation.js";
import type { SessionStateStore } from "./types.js";

/** Default time to live of a Redis-stored session or link, in seconds (24 h, as in SPEC §6). */
export const DEFAULT_REDIS_TTL_SECONDS = 86_400;

/** How the Redis stores reach Redis. Give at most one of `url`, `client`, `connection`. */
export interface RedisStoreConnectionOptions {
  /** Redis URL; the store creates, owns and closes its own connection. @default process.env.REDIS_URL ?? "redis://127.0.0.1:6379" */
  url?: string;
  /** A client you own (e.g. node-redis `createClient({ RESP: 2 })`, connected); never closed by the store. */
  client?: RedisCommands;
  /** A {@link RedisConnection} you own, e.g. shared by several stores; never closed by the store. */
  connection?: RedisConnection;
  /** A command not answered in this long fails, in ms; not allowed with `connection` (set it there). @default 2_000 */
  commandTimeoutMs?: number;
}

/**
 * The part the Redis stores share: where commands go, what `close()` must close, the TTL, and the
 * key prefix, so every key of a store is built in one place. Internal; not exported from the package.
 */
export class RedisKeyspace {
  readonly redis: RedisConnection;
  readonly ttlSeconds: number;
  readonly #prefix: string;
  readonly #owned: RedisConnection | undefined;
  readonly #storeName: string;
  #closed = false;

  /** @throws TypeError naming the first invalid option. No I/O. */
  constructor(storeName: string, options: RedisStoreConnectionOptions & { keyPrefix?: string; ttlSeconds?: number }, defaultPrefix: string) {
    this.#storeName = storeName;
    const given = (["url", "client", "connection"] as const).filter((name) => options[name] !== undefined);
    if (given.length > 1) throw new TypeError(`give at most one of url, client and connection, got ${given.join(" and ")}`);
    if (options.commandTimeoutMs !== undefined) requireDurationMs("commandTimeoutMs", options.commandTimeoutMs, true);
    this.#prefix = options.keyPrefix === undefined ? defaultPrefix : requireNonEmptyString("keyPrefix", options.keyPrefix);
    const ttl = options.ttlSeconds ?? DEFAULT_REDIS_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) invalidOption("ttlSeconds", "a whole number of seconds > 0", ttl);
    this.ttlSeconds = ttl;
    if (options.connection !== undefined) {
      if (!(options.connection instanceof RedisConnection)) invalidOption("connection", "a RedisConnection", options.connection);
      if (options.commandTimeoutMs !== undefined) invalidOption("commandTimeoutMs", "unset when a connection is given (set it on the connection)", options.commandTimeoutMs);
      this.redis = options.connection;
      return;
    }
    if (options.client !== undefined && typeof (options.client as Partial<RedisCommands> | null)?.sendCommand !== "function") {
      invalidOption("client", "an object with a sendCommand(args) method", options.client);
    }
    if (options.url !== undefined) requireRedisUrl(options.url);
    // A given client is wrapped too, for the timeout and error mapping; closing the wrapper
    // never closes the client itself.
    this.#owned = new RedisConnection({ url: options.url, client: options.client, commandTimeoutMs: options.commandTimeoutMs });
    this.redis = this.#owned;
  }

  /** The one place keys are built: `${keyPrefix}${id}`. */
  key(name: string, id: string): string {
    return `${this.#prefix}${requireNonEmptyString(name, id)}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(): void {
    if (this.#closed) throw new Error(`${this.#storeName} is closed`);
  }

  /** Closes only the connection created here. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#owned?.close();
  }
}

function requireRedisUrl(url: unknown): void {
  const protocol = URL.canParse(requireNonEmptyString("url", url)) ? new URL(url as string).protocol : "";
  if (protocol !== "redis:" && protocol !== "rediss:") invalidOption("url", "a redis:// or rediss:// URL", url);
}

/** Options of {@link RedisSessionStateStore}. */
export interface RedisSessionStateStoreOptions extends RedisStoreConnectionOptions {
  /** Time to live of a session, in seconds, refreshed by every save. @default 86_400 (24 h) */
  ttlSeconds?: number;
  /**
   * Time to live of a session saved while not linked to a conversation, in seconds, refreshed by
   * every save (a never-linked session is of no use after its pre-link window). @default ttlSeconds
   */
  unlinkedTtlSeconds?: number;
  /** Prepended to the session id to make its key. @default "autoplay:session_state:" */
  keyPrefix?: string;
  /** Wall clock in epoch ms, given to the states this store creates or loads (expiry is Redis's). @default Date.now */
  now?: () => number;
  /** Timeout and cooldown defaults of the states this store creates or loads. @default the SessionState defaults */
  sessionDefaults?: Pick<SessionStateRestoreOptions, "interactionTimeoutMs" | "cooldownMs">;
}

/** What a state object was last seen at in Redis. */
interface Revision {
  revision: number;
  writeId: string;
}

/** A save is tried this many times in all when Redis is unreachable or times out. */
const SAVE_ATTEMPTS = 3;
/** Pause before the second try, in ms; doubled before the third. */
const SAVE_BACKOFF_MS = 25;

// ARGV: expected revision (-1: the key must not exist), write id, new JSON, TTL in seconds,
// expected stored write id ('' when unknown). A stored write id equal to ours means an earlier
// try of this very save applied and only its reply was lost, so it is reported as done instead of
// as a conflict. The expected write id makes the check immune to a session deleted (or expired)
// and re-created meanwhile, whose revisions start again at 1. A value without a revision
// (written by another tool) counts as revision 0.
const SAVE_SCRIPT = new RedisScript(`
local current = redis.call('GET', KEYS[1])
local stored = -1
local doc = nil
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if not ok or type(decoded) ~= 'table' then return {'corrupt', -1} end
  doc = decoded
  if doc.write_id == ARGV[2] then return {'done', doc.revision} end
  stored = doc.revision
  if stored == nil then stored = 0 end
  if type(stored) ~= 'number' then return {'corrupt', -1} end
end
if stored ~= tonumber(ARGV[1]) then return {'conflict', stored} end
if current and ARGV[5] ~= '' and doc.write_id ~= ARGV[5] then return {'conflict', stored} end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return {'ok', math.max(stored, 0) + 1}
`);

/**
 * A {@link SessionStateStore} in Redis (SPEC §6): one JSON value per session at
 * `${keyPrefix}${sessionId}`: the state's snapshot plus a `revision` and a `write_id`.
 *
 * `save` is compare-and-set: it succeeds only if the session is still at the revision the state
 * (or the state it was cloned from) was read at (a state this store did not load must find no
 * session), otherwise it throws
 * {@link ConcurrentUpdateError}, so two instances can never silently overwrite each other. A read
 * error always throws; it never looks like "not found". Construction does no I/O.
 */
export class RedisSessionStateStore implements SessionStateStore {
  /** Time to live of a session saved while unlinked, in ms (callers refresh such states in time). */
  readonly unlinkedTtlMs: number;
  readonly #keys: RedisKeyspace;
  readonly #restore: SessionStateRestoreOptions;
  readonly #unlinkedTtlSeconds: number;
  /**
   * Tags each loaded or saved state object (and its clones) with the revision and write id it was
   * last seen at, so a clone saves exactly as its original would.
   */
  readonly #token = Symbol("RedisSessionStateStore");
  /** The save in flight per state object, so saving one object twice is ordered, not a self-conflict. */
  readonly #saving = new WeakMap<SessionState, Promise<void>>();

  /** @throws TypeError naming the first invalid option. */
  constructor(options: RedisSessionStateStoreOptions = {}) {
    this.#keys = new RedisKeyspace("RedisSessionStateStore", options, "autoplay:session_state:");
    const unlinkedTtl = options.unlinkedTtlSeconds ?? this.#keys.ttlSeconds;
    if (!Number.isSafeInteger(unlinkedTtl) || unlinkedTtl <= 0) invalidOption("unlinkedTtlSeconds", "a whole number of seconds > 0", unlinkedTtl);
    this.#unlinkedTtlSeconds = unlinkedTtl;
    this.unlinkedTtlMs = unlinkedTtl * 1000;
    this.#restore = { now: requireFunction<() => number>("now", options.now ?? Date.now) };
    const defaults = options.sessionDefaults ?? {};
    if (defaults.interactionTimeoutMs !== undefined) {
      this.#restore.interactionTimeoutMs = requireDurationMs("sessionDefaults.interactionTimeoutMs", defaults.interactionTimeoutMs);
    }
    if (defaults.cooldownMs !== undefined) {
      this.#restore.cooldownMs = requireDurationMs("sessionDefaults.cooldownMs", defaults.cooldownMs);
    }
  }

  /** @throws RedisUnavailableError when Redis fails; Error when the stored value is unreadable. */
  async get(sessionId: string): Promise<SessionState | null> {
    this.#keys.assertOpen();
    const key = this.#keys.key("sessionId", sessionId);
    const raw = await this.#keys.redis.sendCommand(["GET", key]);
    if (raw === null) return null;
    const { state, revision, writeId } = this.#decode(key, sessionId, raw);
    setStoreToken(state, this.#token, { revision, writeId } satisfies Revision);
    return state;
  }

  async getOrCreate(sessionId: string): Promise<SessionState> {
    return (await this.get(sessionId)) ?? new SessionState({ ...this.#restore, sessionId });
  }

  /**
   * Writes the state's current snapshot if the session is unchanged since this object was loaded,
   * and refreshes the TTL. Unreachable Redis is retried twice before the error is thrown.
   * @throws ConcurrentUpdateError when another writer got there first: reload and re-apply.
   */
  async save(state: SessionState): Promise<void> {
    this.#keys.assertOpen();
    if (!(state instanceof SessionState)) throw new TypeError("save() expects a SessionState");
    const snapshot = state.toJSON();
    const previous = this.#saving.get(state) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.#write(state, snapshot));
    this.#saving.set(state, current);
    try {
      await current;
    } finally {
      if (this.#saving.get(state) === current) this.#saving.delete(state);
    }
  }

  /** Removes the session's key; state objects loaded before then can no longer be saved. */
  async delete(sessionId: string): Promise<void> {
    this.#keys.assertOpen();
    await this.#keys.redis.sendCommand(["UNLINK", this.#keys.key("sessionId", sessionId)]);
  }

  /** Later calls reject; closes the connection only if this store created it. Safe to call twice. */
  async close(): Promise<void> {
    await this.#keys.close();
  }

  async #write(state: SessionState, snapshot: SessionSnapshot): Promise<void> {
    const key = this.#keys.key("sessionId", state.sessionId);
    const seen = getStoreToken<Revision>(state, this.#token);
    const expected = seen?.revision ?? -1;
    const writeId = randomUUID();
    const json = JSON.stringify({ ...snapshot, revision: Math.max(expected, 0) + 1, write_id: writeId });
    const ttl = snapshot.conversation_linked ? this.#keys.ttlSeconds : this.#unlinkedTtlSeconds;
    const args = [expected, writeId, json, ttl, seen?.writeId ?? ""];
    for (let attempt = 1; ; attempt += 1) {
      let reply: unknown;
      try {
        reply = await SAVE_SCRIPT.run(this.#keys.redis, [key], args);
      } catch (error) {
        if (!(error instanceof RedisUnavailableError) || attempt >= SAVE_ATTEMPTS || this.#keys.closed) throw error;
        await sleep(SAVE_BACKOFF_MS * 2 ** (attempt - 1));
        continue;
      }
      setStoreToken(state, this.#token, { revision: this.#checkSaved(key, state.sessionId, expected, reply), writeId } satisfies Revision);
      return;
    }
  }

  /** The revision written, from the script's `[status, revision]` reply. */
  #checkSaved(key: string, sessionId: string, expected: number, reply: unknown): number {
    const [status, revision] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if ((status === "ok" || status === "done") && typeof revision === "number") return revision;
    if (status === "conflict") {
      const found = revision === -1 ? "no stored session" : `stored revision ${String(revision)}`;
      const wanted = expected === -1 ? "no stored session" : `revision ${expected}`;
      throw new ConcurrentUpdateError(`session ${JSON.stringify(sessionId)}`, `expected ${wanted}, found ${found}`);
    }
    if (status === "corrupt") throw new Error(`the value at Redis key ${key} is not a session snapshot; not overwriting it`);
    throw new RedisUnavailableError(`unexpected reply to the session save script: ${JSON.stringify(reply)}`);
  }

  #decode(key: string, sessionId: string, raw: unknown): { state: SessionState; revision: number; writeId: string } {
    try {
      if (typeof raw !== "string") throw new TypeError(`expected a string reply, got ${typeof raw}`);
      const doc: unknown = JSON.parse(raw);
      if (!isPlainObject(doc)) throw new TypeError("not a JSON object");
      // No revision: a snapshot written by another tool; it counts as revision 0, as in the script.
      const revision = doc.revision === undefined ? 0 : doc.revision;
      if (!Number.isSafeInteger(revision) || (revision as number) < 0) throw new TypeError("revision is not a whole number >= 0");
      const state = SessionState.fromJSON(doc, this.#restore);
      if (state.sessionId !== sessionId) throw new TypeError(`it belongs to session ${JSON.stringify(state.sessionId)}`);
      return { state, revision: revision as number, writeId: typeof doc.write_id === "string" ? doc.write_id : "" };
    } catch (error) {
      throw new Error(`the value at Redis key ${key} is not a readable session snapshot: ${(error as Error).message}`, { cause: error });
    }
  }
}
