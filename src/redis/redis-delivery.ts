import { randomUUID } from "node:crypto";
import { WriterClosedError } from "../errors.js";
import { formatNoteColumns } from "../note/format.js";
import type { NoteAction } from "../payloads/types.js";
import type { DeliveryEngine, DeliveryEngineFactory, DeliveryHost, RedriveOutcome, WriteOutcome } from "../writer/delivery-engine.js";
import type { CloseSummary, DeadLetter, NoteKind } from "../writer/events.js";
import type { RedisCommands } from "./commands.js";
import { RedisConnection } from "./connection.js";
import { CLAIM, CONFIRM, DEAD_LETTER, LINK, RETRY, TAKE_PARTS, WRITE } from "./delivery-scripts.js";
import { DeliveryKeys } from "./delivery-keys.js";
import { decodeEntries, encodeActions } from "./entries.js";

/** Options of the Redis delivery engine. */
export interface RedisDeliveryOptions {
  /** Redis URL for a connection this engine creates and closes. @default REDIS_URL or redis://127.0.0.1:6379 */
  url?: string;
  /** A client you own (any `RedisCommands`); not closed by the engine. */
  client?: RedisCommands;
  /** A shared {@link RedisConnection}; not closed by the engine. */
  connection?: RedisConnection;
  /** Prefix of every key. Processes sharing deliveries must use the same one. @default "autoplay:delivery:" */
  keyPrefix?: string;
  /** Time to live of a session's delivery keys, refreshed on every write, in seconds. @default 86_400 */
  ttlSeconds?: number;
  /** How often this process looks for due sessions nobody is handling (crash recovery), in ms. @default 500 */
  pollIntervalMs?: number;
  /** A claim's lease is twice `postTimeoutMs` plus this, in ms: after it another process may re-deliver. @default 5_000 */
  leaseMarginMs?: number;
  /** Dead letters kept in the shared Redis list. @default 10_000 */
  maxDeadLetters?: number;
  /** Bound on each Redis command, in ms. @default 2_000 */
  commandTimeoutMs?: number;
}

/** A claimed note: the caller holds the session's lease until it confirms, retries or dead-letters. */
interface Claim {
  kind: NoteKind;
  conversationId: string;
  attempt: number;
  descriptions: string[];
  starts: number[];
}

/**
 * Delivery through Redis: buffers, debounce deadlines, leases and part ids live in Redis, so any
 * number of processes can share the work and a restart loses nothing. Each step is one Lua
 * script; `writeActions` costs one round trip. A session is posted by at most one process at a
 * time (a lease); a process that dies mid-post leaves its claimed actions to be re-delivered
 * once the lease expires (at-least-once).
 */
export class RedisDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #redis: RedisConnection;
  readonly #ownsConnection: boolean;
  readonly #keys: DeliveryKeys;
  readonly #ttlMs: number;
  readonly #leaseMs: number;
  readonly #maxDead: number;
  readonly #token = randomUUID();
  /** Local wake-ups: session -> when this process should try to claim it. */
  readonly #wakes = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Sessions this process is claiming or posting right now. */
  readonly #busy = new Map<string, Promise<boolean>>();
  readonly #poller: NodeJS.Timeout;
  #idleWaiters: Array<() => void> = [];
  #closing = false;
  /** Set when close()'s bound ran out: drain loops stop claiming new notes. */
  #drainStopped = false;

  constructor(host: DeliveryHost, options: RedisDeliveryOptions = {}) {
    this.#host = host;
    this.#ownsConnection = options.client === undefined && options.connection === undefined;
    this.#redis = options.connection ?? new RedisConnection({ url: options.url, client: options.client, commandTimeoutMs: options.commandTimeoutMs });
    this.#keys = new DeliveryKeys(options.keyPrefix ?? "autoplay:delivery:");
    this.#ttlMs = positive("ttlSeconds", options.ttlSeconds ?? 86_400) * 1000;
    // A post may take postTimeoutMs, plus as long again waiting for a timed-out call to land.
    this.#leaseMs = 2 * host.options.postTimeoutMs + positive("leaseMarginMs", options.leaseMarginMs ?? 5_000);
    this.#maxDead = positive("maxDeadLetters", options.maxDeadLetters ?? 10_000);
    const pollMs = positive("pollIntervalMs", options.pollIntervalMs ?? 500);
    this.#poller = setInterval(() => this.#poll(), pollMs);
    this.#poller.unref();
  }

  get sessionCount(): number {
    return this.#wakes.size + this.#busy.size;
  }

  get inFlight(): number {
    return this.#busy.size;
  }

  get deadLetterCount(): number {
    return 0;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return [];
  }

  async takeDeadLetters(): Promise<DeadLetter[]> {
    return [];
  }

  async redriveDeadLetters(_ids?: readonly string[]): Promise<RedriveOutcome> {
    return { requeued: 0, actions: 0, missing: [], skipped: [] };
  }

  async writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    if (this.#closing) throw new WriterClosedError();
    const now = this.#host.options.now();
    const args = this.#common(sessionId, now, conversationId ?? "");
    encodeActions(actions, now / 1000, args);
    const reply = (await WRITE.run(this.#redis, this.#keys.session(sessionId), args)) as [number, number, string, number, number];
    const trimmed = Number(reply[4]);
    this.#host.stats.actionsTrimmed += trimmed;
    if (Number(reply[3]) > 0) {
      // This write made the first link and moved the pre-link buffer into a flush note.
      this.#host.events.emit("linked", { sessionId, conversationId: reply[2], bufferedActions: Number(reply[3]) });
    }
    this.#schedule(sessionId, Number(reply[1]));
    return { accepted: Number(reply[0]), duplicates: 0, trimmed };
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    const now = this.#host.options.now();
    const [flushed, at] = (await LINK.run(this.#redis, this.#keys.session(sessionId), this.#common(sessionId, now, conversationId))) as [number, number];
    if (Number(flushed) < 0) return;
    this.#host.events.emit("linked", { sessionId, conversationId, bufferedActions: Number(flushed) });
    this.#schedule(sessionId, Number(at));
  }

  async flush(): Promise<void> {
    const sessions = new Set([...this.#wakes.keys(), ...this.#busy.keys()]);
    await Promise.all([...sessions].map((sid) => this.#drainSession(sid)));
  }

  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async getPartIds(sessionId: string): Promise<string[]> {
    return (await this.#redis.sendCommand(["LRANGE", this.#keys.parts(sessionId), "0", "-1"])) as string[];
  }

  async takePartIds(sessionId: string): Promise<string[]> {
    return (await TAKE_PARTS.run(this.#redis, [this.#keys.parts(sessionId)], [])) as string[];
  }

  async linkedConversation(sessionId: string): Promise<string | null> {
    return ((await this.#redis.sendCommand(["HGET", this.#keys.meta(sessionId), "conv"])) as string | null) ?? null;
  }

  pruneIdleSessions(): number {
    return 0; // Redis expires idle sessions by TTL; this process keeps no per-session state at rest.
  }

  /**
   * Stops intake and polling, posts what this process knows to be owed (without waiting for
   * debounces), bounded by `closeTimeoutMs`. Work still in Redis is not lost: another process,
   * or this one after a restart, delivers it.
   */
  async close(): Promise<CloseSummary> {
    this.#closing = true;
    clearInterval(this.#poller);
    const deadLetteredBefore = this.#host.stats.deadLettered;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#host.options.closeTimeoutMs)));
    await Promise.race([this.flush().catch((error: unknown) => this.#report("drain at close failed", error)), timeout]);
    clearTimeout(timer);
    // Whatever is not claimed yet stays in Redis for another process or the next start; posts
    // already in flight are awaited below so their confirmations are recorded.
    this.#drainStopped = true;
    for (const wake of this.#wakes.values()) clearTimeout(wake.timer);
    this.#wakes.clear();
    await Promise.all(this.#busy.values());
    if (this.#ownsConnection) await this.#redis.close();
    return { deadLettered: this.#host.stats.deadLettered - deadLetteredBefore, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 0, unlinkedSessions: 0 };
  }

  /** ARGV shared by WRITE and LINK. */
  #common(sessionId: string, now: number, conversationId: string): (string | number)[] {
    const o = this.#host.options;
    return [sessionId, now, conversationId, (now - o.preLinkWindowMs) / 1000, o.postLinkDebounceMs, o.maxWaitMs, this.#ttlMs];
  }

  /** Wake this process at `at` (epoch ms) to claim the session; -1 means nothing to do. */
  #schedule(sessionId: string, at: number): void {
    if (at < 0 || this.#closing) return;
    const existing = this.#wakes.get(sessionId);
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const delay = Math.max(0, at - this.#host.options.now());
    const timer = setTimeout(() => {
      this.#wakes.delete(sessionId);
      if (this.#drainStopped) return;
      void this.#attempt(sessionId, false);
      this.#checkIdle();
    }, delay);
    this.#wakes.set(sessionId, { at, timer });
  }

  /**
   * Claims and posts the session's next note unless this process is already on it; resolves to
   * whether a note was claimed. Failures are logged: the session stays due in Redis and the
   * poller picks it up again.
   */
  #attempt(sessionId: string, force: boolean): Promise<boolean> {
    const running = this.#busy.get(sessionId);
    if (running !== undefined) return running.then(() => true);
    const work = this.#claimAndPost(sessionId, force)
      .catch((error: unknown) => {
        this.#report("delivery step failed; the session stays due", error, sessionId);
        return false;
      })
      .finally(() => {
        this.#busy.delete(sessionId);
        this.#checkIdle();
      });
    this.#busy.set(sessionId, work);
    return work;
  }

  /** Posts everything this session owes now, note after note (flush and close). */
  async #drainSession(sessionId: string): Promise<void> {
    for (let notes = 0; notes < 10_000 && !this.#drainStopped; notes++) {
      await this.#busy.get(sessionId);
      if (this.#drainStopped) return;
      if (!(await this.#attempt(sessionId, true))) return;
    }
  }

  /** One claim, one post, one outcome script. Returns whether a note was claimed. */
  async #claimAndPost(sessionId: string, force: boolean): Promise<boolean> {
    const o = this.#host.options;
    const keys = this.#keys.session(sessionId);
    const now = o.now();
    const reply = (await CLAIM.run(this.#redis, keys, [
      sessionId, now, this.#token, this.#leaseMs, o.maxNoteActions, o.maxNoteChars, o.postLinkDebounceMs, o.maxWaitMs, force ? 1 : 0, this.#ttlMs,
    ])) as unknown[];
    if (Number(reply[0]) !== 1) {
      const at = Number(reply[1]);
      if (at > now) this.#schedule(sessionId, at); // not due yet (a later write moved it)
      return false;
    }
    const claim = parseClaim(reply);
    const binSeconds = claim.kind === "flush" ? o.binSeconds : 0;
    const body = formatNoteColumns(sessionId, claim.descriptions, claim.starts, binSeconds, o.now() / 1000);
    let partId: string | null;
    const started = o.now();
    try {
      partId = await this.#host.post({ conversationId: claim.conversationId, body, sessionId, attempt: claim.attempt, idempotencyKey: randomUUID() });
    } catch (error) {
      await this.#onFailure(sessionId, claim, body, error);
      return true;
    }
    await this.#confirm(sessionId, claim, partId, o.now() - started);
    return true;
  }

  async #confirm(sessionId: string, claim: Claim, partId: string | null, durationMs: number): Promise<void> {
    const o = this.#host.options;
    const args = [sessionId, this.#token, o.now(), o.postLinkDebounceMs, o.maxWaitMs, partId ?? "", this.#ttlMs];
    // The platform has the note: keep trying to record that until the lease would run out, so a
    // Redis blip does not turn into a duplicate note.
    const reply = (await this.#untilLeaseEnds(() => CONFIRM.run(this.#redis, this.#keys.session(sessionId), args))) as [number, number];
    if (Number(reply[0]) !== 1) {
      this.#host.log("warn", "lease lost before the note was confirmed; it may be delivered twice", { sessionId });
      return;
    }
    this.#host.stats.notesPosted++;
    this.#host.stats.actionsDelivered += claim.descriptions.length;
    if (this.#host.events.has("delivered")) {
      this.#host.events.emit("delivered", {
        sessionId, conversationId: claim.conversationId, partId, kind: claim.kind, actionCount: claim.descriptions.length, attempt: claim.attempt, durationMs,
      });
    }
    this.#schedule(sessionId, Number(reply[1]));
  }

  async #onFailure(sessionId: string, claim: Claim, body: string, error: unknown): Promise<void> {
    const o = this.#host.options;
    const decision = this.#host.decide(error, claim.attempt, o.now());
    if (decision.kind === "retry" && !decision.counted) this.#host.stats.throttled++;
    else this.#host.stats.postFailures++;
    const keys = this.#keys.session(sessionId);
    const now = o.now();
    if (decision.kind === "retry") {
      const args = [sessionId, this.#token, now, o.postLinkDebounceMs, o.maxWaitMs, now + decision.delayMs, decision.counted ? 1 : 0, this.#ttlMs];
      const reply = (await RETRY.run(this.#redis, keys, args)) as number[];
      if (Number(reply[0]) !== 1) return;
      if (decision.counted) this.#host.stats.retries++;
      this.#host.events.emit("retrying", {
        sessionId, conversationId: claim.conversationId, kind: claim.kind, attempt: claim.attempt, delayMs: decision.delayMs, error,
      });
      this.#schedule(sessionId, Number(reply[1]));
      return;
    }
    const letter: DeadLetter = {
      id: randomUUID(),
      sessionId,
      conversationId: claim.conversationId,
      reason: decision.reason,
      error: error instanceof Error ? error.message : String(error),
      attempts: claim.attempt,
      kind: claim.kind,
      actions: claim.descriptions.map((description, i) => ({ description, timestamp_start: claim.starts[i] as number })),
      body,
      at: now,
    };
    const reply = (await DEAD_LETTER.run(this.#redis, keys, [
      sessionId, this.#token, now, o.postLinkDebounceMs, o.maxWaitMs, JSON.stringify(letter), this.#maxDead,
    ])) as number[];
    if (Number(reply[0]) !== 1) return;
    this.#host.reportDeadLetter(letter);
    this.#schedule(sessionId, Number(reply[1]));
  }

  async #untilLeaseEnds<T>(step: () => Promise<T>): Promise<T> {
    const deadline = this.#host.options.now() + this.#leaseMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await step();
      } catch (error) {
        if (this.#host.options.now() + delay >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Finds sessions that are due and not handled here: other processes' expired leases, lost wake-ups. */
  #poll(): void {
    if (this.#closing) return;
    const now = this.#host.options.now();
    this.#redis
      .sendCommand(["ZRANGEBYSCORE", this.#keys.due, "-inf", String(now), "LIMIT", "0", "100"])
      .then((ids) => {
        for (const sid of ids as string[]) if (!this.#busy.has(sid) && !this.#wakes.has(sid)) void this.#attempt(sid, false);
      })
      .catch((error: unknown) => this.#report("polling for due sessions failed", error));
  }

  #report(message: string, error: unknown, sessionId?: string): void {
    this.#host.log("error", message, { sessionId, error: error instanceof Error ? error.message : String(error) });
  }

  #isIdle(): boolean {
    return this.#wakes.size === 0 && this.#busy.size === 0;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function parseClaim(reply: unknown[]): Claim {
  const { descriptions, starts } = decodeEntries(reply.slice(4) as string[]);
  return { kind: reply[1] === "flush" ? "flush" : "debounced", conversationId: String(reply[2]), attempt: Number(reply[3]), descriptions, starts };
}

function positive(name: string, value: number): number {
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a positive number, got ${String(value)}`);
  }
  return value;
}

/** Writer option: deliver through Redis, e.g. `new MyWriter({ productId, delivery: redisDelivery({ url }) })`. */
export function redisDelivery(options: RedisDeliveryOptions = {}): DeliveryEngineFactory {
  return (host) => new RedisDelivery(host, options);
}
