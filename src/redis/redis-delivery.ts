import { WriterClosedError } from "../errors.js";
import type { NoteAction } from "../payloads/types.js";
import type { DeliveryEngine, DeliveryEngineFactory, DeliveryHost, RedriveOutcome, SummaryOutcome, SummaryRequest, WriteOutcome } from "../writer/delivery-engine.js";
import type { CloseSummary, DeadLetter } from "../writer/events.js";
import { resolvesWithin } from "../writer/timers.js";
import { RedisConnection } from "./connection.js";
import { positive, type RedisDeliveryOptions } from "./redis-delivery-options.js";
import { TAKE_PARTS, WRITE } from "./delivery-scripts.js";
import { DeliveryKeys } from "./delivery-keys.js";
import { encodeActions } from "./entries.js";
import { EvictionPolicyCheck, RedisEvictionPolicyError } from "./eviction-policy.js";
import { ready, reportError, type RedisEngineState } from "./redis-engine-state.js";
import { intakeArgs, linkSession, recordWrite, type WriteReply } from "./redis-intake.js";
import { claimAndPost, settleOutcome } from "./redis-posting.js";
import { RedisDeadLetters } from "./redis-dead-letters.js";
import { queueSummary, redactOnce } from "./redis-redactions.js";
import { WakeUps } from "./redis-wake-ups.js";

/** Sessions `flush()` drains at once, at most (each has at most one command or post in flight). */
export const FLUSH_CONCURRENCY = 256;

/**
 * Delivery through Redis: buffers, debounce deadlines, leases, part ids and dead letters live in
 * Redis, so any number of processes can share the work and a restart loses nothing. Each step is
 * one Lua script; `writeActions` costs one round trip. A session is posted by at most one claim at
 * a time (a lease, renewed while its call is pending); every outcome step is idempotent per claim
 * id and retried until its outcome is known; a process that dies mid-post leaves its claimed note
 * to be re-delivered (same body, same idempotency key) once the lease expires.
 *
 * This class holds the public API, the per-session work coordination and `close()`; beside it:
 * intake (WRITE, LINK) in redis-intake.ts, claims and leases in redis-claims.ts, posting a claimed
 * note in redis-posting.ts, its outcome in note-outcomes.ts, wake-up timers in redis-wake-ups.ts,
 * summaries and redactions in redis-redactions.ts, dead letters in redis-dead-letters.ts; what
 * they share is {@link RedisEngineState}.
 */
export class RedisDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #engine: RedisEngineState;
  readonly #ownsConnection: boolean;
  readonly #poller: NodeJS.Timeout;
  #idleWaiters: Array<() => void> = [];

  constructor(host: DeliveryHost, options: RedisDeliveryOptions = {}) {
    this.#host = host;
    this.#ownsConnection = options.client === undefined && options.connection === undefined;
    const redis = options.connection ?? new RedisConnection({ url: options.url, client: options.client, commandTimeoutMs: options.commandTimeoutMs });
    const keys = new DeliveryKeys(options.keyPrefix ?? "autoplay:delivery:");
    const ttlMs = positive("ttlSeconds", options.ttlSeconds ?? 86_400) * 1000;
    const leaseMs = 2 * host.options.postTimeoutMs + positive("leaseMarginMs", options.leaseMarginMs ?? 5_000);
    const deadLetters = new RedisDeadLetters(redis, keys, () => host.log("error", "unreadable dead letter in Redis skipped", {}));
    const policy = new EvictionPolicyCheck(redis, options.requireNoEviction === true, (policy) =>
      host.log("error", "Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop buffered actions without a trace", {
        policy, recommended: "noeviction",
      }),
    );
    const wakes = new WakeUps({ now: () => host.options.now(), closing: () => this.#engine.closing, wake: (sessionId) => this.#onWake(sessionId) });
    this.#engine = {
      host, redis, keys, ttlMs, leaseMs, deadLetters, policy, wakes,
      busy: new Map(), openClaims: new Map(), unsettled: new Set(), mayRedact: new Set(),
      closing: false, drainStopped: false, abandoned: false,
      settle: (sessionId, step) => settleOutcome(this.#engine, sessionId, step),
      schedule: (sessionId, at) => wakes.schedule(sessionId, at),
      redactionsQueued: (sessionId) => this.#engine.mayRedact.add(sessionId),
    };
    const pollMs = positive("pollIntervalMs", options.pollIntervalMs ?? 500);
    this.#poller = setInterval(() => this.#poll(), pollMs);
    this.#poller.unref();
  }

  get sessionCount(): number {
    return this.#engine.wakes.size + this.#engine.busy.size;
  }

  get inFlight(): number {
    return this.#engine.busy.size;
  }

  get deadLetterCount(): number {
    return this.#engine.deadLetters.count;
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.#engine.deadLetters.list();
  }

  takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#engine.deadLetters.take();
  }

  async redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome> {
    const engine = this.#engine;
    if (engine.closing) throw new WriterClosedError();
    await ready(engine);
    const o = this.#host.options;
    const args = { now: o.now(), debounceMs: o.postLinkDebounceMs, maxWaitMs: o.maxWaitMs, ttlMs: engine.ttlMs };
    return engine.deadLetters.redrive(ids, args, (sessionId, at) => engine.wakes.schedule(sessionId, at));
  }

  async writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    const engine = this.#engine;
    if (engine.closing) throw new WriterClosedError();
    const o = this.#host.options;
    const now = o.now();
    const args = intakeArgs(engine, sessionId, now, conversationId ?? "");
    args.push(o.dedupeWindowMs, o.maxDedupeIds, o.preLinkWindowMs);
    if (encodeActions(actions, now / 1000, args) === 0) return { accepted: 0, duplicates: 0, trimmed: 0 };
    if (!engine.policy.passed) await ready(engine);
    const reply = (await WRITE.run(engine.redis, engine.keys.session(sessionId), args)) as WriteReply;
    return recordWrite(engine, sessionId, actions, reply);
  }

  async summarize(request: SummaryRequest): Promise<SummaryOutcome> {
    if (this.#engine.closing) throw new WriterClosedError();
    await ready(this.#engine);
    return queueSummary(this.#engine, request);
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#engine.closing) throw new WriterClosedError();
    await ready(this.#engine);
    await linkSession(this.#engine, sessionId, conversationId);
  }

  async flush(): Promise<void> {
    const sessions = [...new Set([...this.#engine.wakes.sessions(), ...this.#engine.busy.keys()])];
    // A bounded number at a time: every session at once would overrun the connection's command
    // queue (commands beyond it fail at once) when a process holds many sessions.
    const drainer = async (): Promise<void> => {
      for (let sid = sessions.pop(); sid !== undefined; sid = sessions.pop()) await this.#drainSession(sid);
    };
    await Promise.all(Array.from({ length: Math.min(FLUSH_CONCURRENCY, sessions.length) }, drainer));
  }

  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async getPartIds(sessionId: string): Promise<string[]> {
    return (await this.#engine.redis.sendCommand(["LRANGE", this.#engine.keys.parts(sessionId), "0", "-1"])) as string[];
  }

  async takePartIds(sessionId: string): Promise<string[]> {
    return (await TAKE_PARTS.run(this.#engine.redis, [this.#engine.keys.parts(sessionId)], [])) as string[];
  }

  async linkedConversation(sessionId: string): Promise<string | null> {
    return ((await this.#engine.redis.sendCommand(["HGET", this.#engine.keys.meta(sessionId), "conv"])) as string | null) ?? null;
  }

  pruneIdleSessions(): number {
    return 0; // Redis expires idle sessions by TTL; this process keeps no per-session state at rest.
  }

  /**
   * Stops intake and polling, posts what this process knows to be owed (without waiting for
   * debounces) and awaits calls in flight, all within `closeTimeoutMs`. At the bound it stops
   * waiting: a claimed note not yet confirmed stays claimable in Redis (its lease runs out, then
   * another process or the next start re-delivers it with the same idempotency key).
   */
  async close(): Promise<CloseSummary> {
    const engine = this.#engine;
    engine.closing = true;
    clearInterval(this.#poller);
    const deadline = Date.now() + this.#host.options.closeTimeoutMs;
    const deadLetteredBefore = this.#host.stats.deadLettered;
    await resolvesWithin(this.flush().catch((error: unknown) => this.#report("drain at close failed", error)), untilDeadline(deadline));
    engine.drainStopped = true;
    const left = engine.wakes.stop();
    await resolvesWithin(Promise.all(engine.busy.values()), untilDeadline(deadline));
    engine.abandoned = true;
    for (const sid of engine.unsettled) left.add(sid);
    for (const sid of engine.openClaims.keys()) left.add(sid);
    for (const sid of engine.wakes.owedAtClose) left.add(sid);
    const unconfirmed = engine.unsettled.size;
    if (unconfirmed > 0) {
      this.#host.log("warn", "closed with notes unconfirmed; they stay claimable in Redis and are re-delivered after their lease", {
        unconfirmed, sessions: [...engine.unsettled],
      });
    }
    if (this.#ownsConnection) await engine.redis.close(untilDeadline(deadline));
    this.#checkIdle();
    return {
      deadLettered: this.#host.stats.deadLettered - deadLetteredBefore, unconfirmed, leftInRedis: left.size, unlinkedActions: 0, unlinkedSessions: 0,
    };
  }

  /** A local wake-up fired: claim the session unless close()'s drain ran out. */
  #onWake(sessionId: string): void {
    if (this.#engine.drainStopped) return;
    void this.#attempt(sessionId, false);
    this.#checkIdle();
  }

  /**
   * Claims and posts the session's next note unless this process is already on it; resolves to
   * whether a note was claimed. Failures are logged: the session stays due in Redis and the
   * poller (or a wake-up) picks it up again.
   */
  #attempt(sessionId: string, force: boolean): Promise<boolean> {
    const engine = this.#engine;
    const running = engine.busy.get(sessionId);
    if (running !== undefined) return running.then(() => true);
    const work = claimAndPost(engine, sessionId, force)
      .then(async (claimed) => {
        // Redactions after confirmed summaries, one per look, beside the notes.
        if (!engine.drainStopped && engine.mayRedact.has(sessionId) && !(await redactOnce(engine, sessionId, engine.leaseMs))) {
          engine.mayRedact.delete(sessionId);
        }
        return claimed;
      })
      .catch((error: unknown) => {
        if (!engine.abandoned) this.#report("delivery step failed; the session stays due", error, sessionId);
        return false;
      })
      .finally(() => {
        engine.busy.delete(sessionId);
        // Past close()'s bound an unsettled note stays counted as unconfirmed.
        if (!engine.abandoned) engine.unsettled.delete(sessionId);
        this.#checkIdle();
      });
    engine.busy.set(sessionId, work);
    return work;
  }

  /** Posts everything this session owes now, note after note (flush and close). */
  async #drainSession(sessionId: string): Promise<void> {
    for (let notes = 0; notes < 10_000 && !this.#engine.drainStopped; notes++) {
      await this.#engine.busy.get(sessionId);
      if (this.#engine.drainStopped) return;
      if (!(await this.#attempt(sessionId, true))) return;
    }
  }

  /** Finds sessions that are due and not handled here: other processes' expired leases, lost wake-ups. */
  #poll(): void {
    const engine = this.#engine;
    if (engine.closing) return;
    const now = this.#host.options.now();
    ready(engine)
      .then(() => engine.redis.sendCommand(["ZRANGEBYSCORE", engine.keys.due, "-inf", String(now), "LIMIT", "0", "100"]))
      .then((ids) => {
        for (const sid of ids as string[]) {
          if (engine.busy.has(sid) || engine.wakes.has(sid)) continue;
          // Due without a local wake-up: maybe another instance's (or a previous run's) redactions.
          engine.mayRedact.add(sid);
          void this.#attempt(sid, false);
        }
      })
      .catch((error: unknown) => {
        // A refusal is what every call reports already; the poller need not repeat it twice a second.
        if (!(error instanceof RedisEvictionPolicyError)) this.#report("polling for due sessions failed", error);
      });
  }

  #report(message: string, error: unknown, sessionId?: string): void {
    reportError(this.#host, message, error, sessionId);
  }

  #isIdle(): boolean {
    return this.#engine.wakes.size === 0 && this.#engine.busy.size === 0;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !(this.#isIdle() || this.#engine.abandoned)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Milliseconds left until the wall-clock `deadline` (epoch ms); 0 once it passed. */
function untilDeadline(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

export type { RedisDeliveryOptions };

/** Writer option: deliver through Redis, e.g. `new MyWriter({ productId, delivery: redisDelivery({ url }) })`. */
export function redisDelivery(options: RedisDeliveryOptions = {}): DeliveryEngineFactory {
  return (host) => new RedisDelivery(host, options);
}
