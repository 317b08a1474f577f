import { randomBytes } from "node:crypto";
import { WriterClosedError } from "../errors.js";
import { formatNoteColumns } from "../note/format.js";
import { MAX_TIMER_MS } from "../option-checks.js";
import type { NoteAction } from "../payloads/types.js";
import type { DeliveryEngine, DeliveryEngineFactory, DeliveryHost, RedriveOutcome, SummaryOutcome, SummaryRequest, WriteOutcome } from "../writer/delivery-engine.js";
import type { CloseSummary, DeadLetter } from "../writer/events.js";
import { RedisUnavailableError } from "./commands.js";
import { RedisConnection } from "./connection.js";
import { positive, type RedisDeliveryOptions } from "./redis-delivery-options.js";
import { CLAIM, LINK, RENEW, TAKE_PARTS, WRITE } from "./delivery-scripts.js";
import { DeliveryKeys } from "./delivery-keys.js";
import { encodeActions } from "./entries.js";
import { EvictionPolicyCheck, RedisEvictionPolicyError } from "./eviction-policy.js";
import { confirmNote, parseClaim, recordFailure, type Claim, type OutcomeContext } from "./note-outcomes.js";
import { RedisDeadLetters } from "./redis-dead-letters.js";
import { queueSummary, redactOnce } from "./redis-redactions.js";

/** How many times a CLAIM whose reply was lost is re-run at once before the session is woken later. */
const CLAIM_TRIES = 4;

/**
 * Delivery through Redis: buffers, debounce deadlines, leases, part ids and dead letters live in
 * Redis, so any number of processes can share the work and a restart loses nothing. Each step is
 * one Lua script; `writeActions` costs one round trip. A session is posted by at most one claim at
 * a time (a lease, renewed while its call is pending); every outcome step is idempotent per claim
 * id and retried until its outcome is known; a process that dies mid-post leaves its claimed note
 * to be re-delivered (same body, same idempotency key) once the lease expires.
 */
export class RedisDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #redis: RedisConnection;
  readonly #ownsConnection: boolean;
  readonly #keys: DeliveryKeys;
  readonly #ttlMs: number;
  readonly #leaseMs: number;
  readonly #dead: RedisDeadLetters;
  readonly #policy: EvictionPolicyCheck;
  /** Local wake-ups: session -> when this process should try to claim it. */
  readonly #wakes = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Sessions this process is claiming or posting right now. */
  readonly #busy = new Map<string, Promise<boolean>>();
  /** Claim ids whose CLAIM outcome is unknown (reply lost): the next try re-runs the same claim. */
  readonly #openClaims = new Map<string, string>();
  /** Sessions Redis said still owe work once close() began (a retry wait, a note after the drain). */
  readonly #owedAtClose = new Set<string>();
  /** Sessions whose claimed note's call or outcome step has not settled yet. */
  readonly #unsettled = new Set<string>();
  /** Sessions that may have redactions queued (after a confirmed summary, or found by the poller). */
  readonly #mayRedact = new Set<string>();
  readonly #outcomes: OutcomeContext;
  readonly #poller: NodeJS.Timeout;
  #idleWaiters: Array<() => void> = [];
  #closing = false;
  /** Set when close()'s drain ran out of time: no new note is claimed. */
  #drainStopped = false;
  /** Set when close()'s bound ran out: nothing more is claimed, recorded or awaited. */
  #abandoned = false;

  constructor(host: DeliveryHost, options: RedisDeliveryOptions = {}) {
    this.#host = host;
    this.#ownsConnection = options.client === undefined && options.connection === undefined;
    this.#redis = options.connection ?? new RedisConnection({ url: options.url, client: options.client, commandTimeoutMs: options.commandTimeoutMs });
    this.#keys = new DeliveryKeys(options.keyPrefix ?? "autoplay:delivery:");
    this.#ttlMs = positive("ttlSeconds", options.ttlSeconds ?? 86_400) * 1000;
    this.#leaseMs = 2 * host.options.postTimeoutMs + positive("leaseMarginMs", options.leaseMarginMs ?? 5_000);
    this.#dead = new RedisDeadLetters(this.#redis, this.#keys, () => host.log("error", "unreadable dead letter in Redis skipped", {}));
    this.#policy = new EvictionPolicyCheck(this.#redis, options.requireNoEviction === true, (policy) =>
      host.log("error", "Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop buffered actions without a trace", {
        policy, recommended: "noeviction",
      }),
    );
    this.#outcomes = {
      host, redis: this.#redis, keys: this.#keys, ttlMs: this.#ttlMs, deadLetters: this.#dead,
      settle: (sessionId, step) => this.#settle(sessionId, step),
      schedule: (sessionId, at) => this.#schedule(sessionId, at),
      redactionsQueued: (sessionId) => this.#mayRedact.add(sessionId),
    };
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
    return this.#dead.count;
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.#dead.list();
  }

  takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#dead.take();
  }

  async redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome> {
    if (this.#closing) throw new WriterClosedError();
    await this.#ready();
    const o = this.#host.options;
    const args = { now: o.now(), debounceMs: o.postLinkDebounceMs, maxWaitMs: o.maxWaitMs, ttlMs: this.#ttlMs };
    return this.#dead.redrive(ids, args, (sessionId, at) => this.#schedule(sessionId, at));
  }

  async writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    if (this.#closing) throw new WriterClosedError();
    const o = this.#host.options;
    const now = o.now();
    const args = this.#common(sessionId, now, conversationId ?? "");
    args.push(o.dedupeWindowMs, o.maxDedupeIds, o.preLinkWindowMs);
    if (encodeActions(actions, now / 1000, args) === 0) return { accepted: 0, duplicates: 0, trimmed: 0 };
    if (!this.#policy.passed) await this.#ready();
    const reply = (await WRITE.run(this.#redis, this.#keys.session(sessionId), args)) as [number, number, string, number, number, number, number, string, ...number[]];
    const trimmed = Number(reply[4]);
    const duplicates = Number(reply[5]);
    this.#host.stats.actionsTrimmed += trimmed;
    if (duplicates > 0) {
      this.#host.stats.actionsDuplicate += duplicates;
      this.#host.events.emit("duplicates", { sessionId, count: duplicates });
    }
    if (Number(reply[6]) === 1) {
      // This write made the first link and moved the pre-link buffer into a flush note.
      this.#host.events.emit("linked", { sessionId, conversationId: reply[2], bufferedActions: Number(reply[3]) });
    }
    this.#schedule(sessionId, Number(reply[1]));
    return { accepted: Number(reply[0]), duplicates, trimmed, newActions: newActions(actions, reply, duplicates), lastSequence: Number(reply[7]) };
  }

  async summarize(request: SummaryRequest): Promise<SummaryOutcome> {
    if (this.#closing) throw new WriterClosedError();
    await this.#ready();
    return queueSummary(this.#outcomes, request);
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    await this.#ready();
    const now = this.#host.options.now();
    const reply = (await LINK.run(this.#redis, this.#keys.session(sessionId), this.#common(sessionId, now, conversationId))) as number[];
    if (Number(reply[0]) < 0) return;
    this.#host.stats.actionsTrimmed += Number(reply[2]);
    this.#host.events.emit("linked", { sessionId, conversationId, bufferedActions: Number(reply[0]) });
    this.#schedule(sessionId, Number(reply[1]));
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
   * debounces) and awaits calls in flight, all within `closeTimeoutMs`. At the bound it stops
   * waiting: a claimed note not yet confirmed stays claimable in Redis (its lease runs out, then
   * another process or the next start re-delivers it with the same idempotency key).
   */
  async close(): Promise<CloseSummary> {
    this.#closing = true;
    clearInterval(this.#poller);
    const deadline = Date.now() + this.#host.options.closeTimeoutMs;
    const deadLetteredBefore = this.#host.stats.deadLettered;
    await within(this.flush().catch((error: unknown) => this.#report("drain at close failed", error)), deadline);
    this.#drainStopped = true;
    const left = new Set(this.#wakes.keys());
    for (const wake of this.#wakes.values()) clearTimeout(wake.timer);
    this.#wakes.clear();
    await within(Promise.all(this.#busy.values()), deadline);
    this.#abandoned = true;
    for (const sid of this.#unsettled) left.add(sid);
    for (const sid of this.#openClaims.keys()) left.add(sid);
    for (const sid of this.#owedAtClose) left.add(sid);
    const unconfirmed = this.#unsettled.size;
    if (unconfirmed > 0) {
      this.#host.log("warn", "closed with notes unconfirmed; they stay claimable in Redis and are re-delivered after their lease", {
        unconfirmed, sessions: [...this.#unsettled],
      });
    }
    if (this.#ownsConnection) await this.#redis.close(Math.max(0, deadline - Date.now()));
    this.#checkIdle();
    return {
      deadLettered: this.#host.stats.deadLettered - deadLetteredBefore, unconfirmed, leftInRedis: left.size, unlinkedActions: 0, unlinkedSessions: 0,
    };
  }

  /** ARGV shared by WRITE and LINK. */
  #common(sessionId: string, now: number, conversationId: string): (string | number)[] {
    const o = this.#host.options;
    return [sessionId, now, conversationId, (now - o.preLinkWindowMs) / 1000, o.postLinkDebounceMs, o.maxWaitMs, this.#ttlMs];
  }

  #ready(): Promise<void> {
    return this.#policy.passed ? Promise.resolve() : this.#policy.run();
  }

  /**
   * Wake this process at `at` (epoch ms) to claim the session. A negative `at` is Redis saying
   * the session owes nothing now (or another claim holds it): a wake-up still pending goes.
   * Replies arrive in the order their scripts ran (one connection), so a later one is newer.
   */
  #schedule(sessionId: string, at: number): void {
    const existing = this.#wakes.get(sessionId);
    if (at < 0) {
      if (existing !== undefined) clearTimeout(existing.timer);
      this.#wakes.delete(sessionId);
      this.#owedAtClose.delete(sessionId);
      return;
    }
    if (this.#closing) {
      this.#owedAtClose.add(sessionId); // left in Redis for another instance (close summary)
      return;
    }
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#host.options.now()));
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
   * poller (or a wake-up) picks it up again.
   */
  #attempt(sessionId: string, force: boolean): Promise<boolean> {
    const running = this.#busy.get(sessionId);
    if (running !== undefined) return running.then(() => true);
    const work = this.#claimAndPost(sessionId, force)
      .then(async (claimed) => {
        // Redactions after confirmed summaries, one per look, beside the notes.
        if (!this.#drainStopped && this.#mayRedact.has(sessionId) && !(await redactOnce(this.#outcomes, sessionId, this.#leaseMs))) {
          this.#mayRedact.delete(sessionId);
        }
        return claimed;
      })
      .catch((error: unknown) => {
        if (!this.#abandoned) this.#report("delivery step failed; the session stays due", error, sessionId);
        return false;
      })
      .finally(() => {
        this.#busy.delete(sessionId);
        // Past close()'s bound an unsettled note stays counted as unconfirmed.
        if (!this.#abandoned) this.#unsettled.delete(sessionId);
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

  /** One claim, one post, one outcome step. Returns whether a note was claimed. */
  async #claimAndPost(sessionId: string, force: boolean): Promise<boolean> {
    if (!this.#policy.passed) await this.#ready();
    const claim = await this.#claim(sessionId, force);
    if (claim === null) return false;
    const o = this.#host.options;
    const binSeconds = claim.kind === "flush" ? o.binSeconds : 0;
    // Deterministic in the claimed entries: a frozen note is posted again byte for byte.
    const body = claim.summaryBody ?? formatNoteColumns(sessionId, claim.descriptions, claim.starts, binSeconds, o.now() / 1000);
    this.#unsettled.add(sessionId);
    let slow = false;
    let renewal: NodeJS.Timeout | undefined;
    const onSlow = () => {
      slow = true;
      // One session never has two calls that may land: keep the lease while this one is pending.
      const renew = () => void this.#renew(sessionId, claim.id);
      renew();
      renewal = setInterval(renew, Math.max(10, Math.floor(this.#leaseMs / 3)));
      renewal.unref();
    };
    const started = o.now();
    let partId: string | null;
    try {
      partId = await this.#host.post({
        conversationId: claim.conversationId, body, sessionId, attempt: claim.attempt, idempotencyKey: claim.noteId, onSlow,
      });
    } catch (error) {
      clearInterval(renewal);
      if (!this.#abandoned) await recordFailure(this.#outcomes, sessionId, claim, body, error, slow);
      return true;
    } finally {
      clearInterval(renewal);
    }
    if (!this.#abandoned) await confirmNote(this.#outcomes, sessionId, claim, partId, o.now() - started);
    return true;
  }

  /** Runs CLAIM, re-running it with the same claim id while its reply is lost. Null: nothing claimed. */
  async #claim(sessionId: string, force: boolean): Promise<Claim | null> {
    const o = this.#host.options;
    const claimId = this.#openClaims.get(sessionId) ?? newClaimId();
    this.#openClaims.set(sessionId, claimId);
    const keys = this.#keys.session(sessionId);
    let reply: unknown[];
    try {
      reply = (await this.#untilKnown(
        () => CLAIM.run(this.#redis, keys, [sessionId, o.now(), claimId, this.#leaseMs, o.maxNoteActions, o.maxNoteChars, o.postLinkDebounceMs, o.maxWaitMs, force ? 1 : 0, this.#ttlMs]),
        CLAIM_TRIES,
      )) as unknown[];
    } catch (error) {
      // The claim may have been made: try again soon with the same id rather than wait for a lease.
      this.#wakeSoon(sessionId);
      throw error;
    }
    this.#openClaims.delete(sessionId);
    if (Number(reply[0]) !== 1) {
      const at = Number(reply[1]);
      if (at < 0 || at > o.now()) this.#schedule(sessionId, at); // nothing owed, or not due yet
      return null;
    }
    return parseClaim(claimId, reply);
  }

  async #renew(sessionId: string, claimId: string): Promise<void> {
    try {
      const reply = (await RENEW.run(this.#redis, this.#keys.session(sessionId), [sessionId, claimId, this.#host.options.now(), this.#leaseMs])) as number[];
      if (Number(reply[0]) !== 1) this.#host.log("warn", "lease lost while the call was pending; another process may post this session", { sessionId });
    } catch (error) {
      this.#report("renewing the lease of a pending call failed", error, sessionId);
    }
  }


  /** Runs an outcome step until its outcome is known (or close() gives up); the session is then settled. */
  async #settle<T>(sessionId: string, step: () => Promise<T>): Promise<T> {
    const result = await this.#untilKnown(step, Number.POSITIVE_INFINITY);
    this.#unsettled.delete(sessionId);
    return result;
  }

  /** Re-runs an idempotent step while Redis is unreachable (its reply may have been lost). */
  async #untilKnown<T>(step: () => Promise<T>, tries: number): Promise<T> {
    for (let attempt = 1, delay = 50; ; attempt++, delay = Math.min(delay * 2, 1000)) {
      try {
        return await step();
      } catch (error) {
        if (!(error instanceof RedisUnavailableError) || attempt >= tries || this.#abandoned) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #wakeSoon(sessionId: string): void {
    this.#schedule(sessionId, this.#host.options.now() + 500);
  }

  /** Finds sessions that are due and not handled here: other processes' expired leases, lost wake-ups. */
  #poll(): void {
    if (this.#closing) return;
    const now = this.#host.options.now();
    this.#ready()
      .then(() => this.#redis.sendCommand(["ZRANGEBYSCORE", this.#keys.due, "-inf", String(now), "LIMIT", "0", "100"]))
      .then((ids) => {
        for (const sid of ids as string[]) {
          if (this.#busy.has(sid) || this.#wakes.has(sid)) continue;
          // Due without a local wake-up: maybe another instance's (or a previous run's) redactions.
          this.#mayRedact.add(sid);
          void this.#attempt(sid, false);
        }
      })
      .catch((error: unknown) => {
        // A refusal is what every call reports already; the poller need not repeat it twice a second.
        if (!(error instanceof RedisEvictionPolicyError)) this.#report("polling for due sessions failed", error);
      });
  }

  #report(message: string, error: unknown, sessionId?: string): void {
    this.#host.log("error", message, { sessionId, error: error instanceof Error ? error.message : String(error) });
  }

  #isIdle(): boolean {
    return this.#wakes.size === 0 && this.#busy.size === 0;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !(this.#isIdle() || this.#abandoned)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The batch's actions the engine accepted (WRITE lists the positions of duplicates among the encoded ones). */
function newActions(actions: readonly NoteAction[], reply: readonly unknown[], duplicates: number): readonly NoteAction[] {
  const objects = actions.every((a) => a !== null && typeof a === "object") ? actions : actions.filter((a) => a !== null && typeof a === "object");
  if (duplicates === 0) return objects;
  const dup = new Set(reply.slice(8).map(Number));
  return objects.filter((_, i) => !dup.has(i));
}

/** 96 random bits: names one claim, and the note it starts (the idempotency key). */
function newClaimId(): string {
  return randomBytes(12).toString("base64url");
}

/** Waits for `work` until the wall-clock `deadline` (epoch ms), whichever comes first. */
async function within(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  try {
    await Promise.race([work, bound]);
  } finally {
    clearTimeout(timer);
  }
}

export type { RedisDeliveryOptions };

/** Writer option: deliver through Redis, e.g. `new MyWriter({ productId, delivery: redisDelivery({ url }) })`. */
export function redisDelivery(options: RedisDeliveryOptions = {}): DeliveryEngineFactory {
  return (host) => new RedisDelivery(host, options);
}
