import { randomUUID } from "node:crypto";
import { WriterClosedError } from "../errors.js";
import { formatNoteColumns } from "../note/format.js";
import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import type { DeliveryEngine, DeliveryHost, RedriveOutcome, WriteOutcome } from "./delivery-engine.js";
import type { CloseSummary, DeadLetter, DeadLetterReason, NoteKind } from "./events.js";
import { isBusy, newSessionDelivery, type SessionDelivery } from "./session-delivery.js";
import { startHousekeeping, TimerOwner } from "./timers.js";

/**
 * The in-process delivery engine (the default): buffers, debounce timers and part ids live in
 * this process's memory and are lost with it. The policy is described in docs/delivery-policy.md.
 */
export class MemoryDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #sessions = new Map<string, SessionDelivery>();
  readonly #timers: TimerOwner;
  readonly #dead: DeadLetterStore;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #sweepTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #abandoning = false;

  constructor(host: DeliveryHost) {
    this.#host = host;
    this.#dead = new DeadLetterStore(host.options.maxDeadLetters);
    this.#timers = new TimerOwner(
      (error) => host.log("error", "internal error in a delivery timer", { error: String(error) }),
      () => this.#checkIdle(),
    );
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get deadLetterCount(): number {
    return this.#dead.size;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return [...this.#dead.list()];
  }

  async takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#dead.take();
  }

  async redriveDeadLetters(_ids?: readonly string[]): Promise<RedriveOutcome> {
    return { requeued: 0, actions: 0, missing: [] };
  }

  writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    if (this.#closing) return Promise.reject(new WriterClosedError());
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    const target = conversationId || s.conversationId;
    if (target) {
      if (s.conversationId !== target) this.#link(s, target, now);
      if (actions.length > 0) this.#addPending(s, actions, now);
      return Promise.resolve({ accepted: actions.length, duplicates: 0, trimmed: 0 });
    }
    const prelink = (s.prelink ??= new ActionBuffer());
    prelink.append(actions, now / 1000);
    const trimmed = prelink.trimOlderThan((now - this.#host.options.preLinkWindowMs) / 1000);
    this.#host.stats.actionsTrimmed += trimmed;
    return Promise.resolve({ accepted: actions.length, duplicates: 0, trimmed });
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    if (s.conversationId !== conversationId) this.#link(s, conversationId, now);
  }

  async flush(): Promise<void> {
    // Wait for what is owed now, not for actions that keep arriving: a continuous stream would
    // otherwise keep a flush pending forever.
    const owed: Array<[SessionDelivery, number]> = [];
    for (const s of this.#sessions.values()) {
      const count = (s.flush?.length ?? 0) + (s.pending?.length ?? 0) + s.inFlightActions;
      if (count > 0) owed.push([s, s.settledActions + count]);
      this.#makeDue(s);
    }
    this.#checkIdle();
    await Promise.all(
      owed.map(async ([s, target]) => {
        // A note waiting for its retry is not posting: its attempt has settled, so flush stops there.
        while (s.settledActions < target && s.posting !== null) await s.posting;
      }),
    );
  }

  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async getPartIds(sessionId: string): Promise<string[]> {
    return [...(this.#sessions.get(sessionId)?.partIds ?? [])];
  }

  async takePartIds(sessionId: string): Promise<string[]> {
    const s = this.#sessions.get(sessionId);
    const ids = s?.partIds ?? [];
    if (s) s.partIds = null;
    return ids;
  }

  async linkedConversation(sessionId: string): Promise<string | null> {
    return this.#sessions.get(sessionId)?.conversationId ?? null;
  }

  pruneIdleSessions(): number {
    const { now: clock, preLinkWindowMs, sessionIdleTtlMs } = this.#host.options;
    const now = clock();
    const cutoffSeconds = (now - preLinkWindowMs) / 1000;
    let removed = 0;
    let expiredActions = 0;
    for (const [id, s] of this.#sessions) {
      if (isBusy(s)) continue;
      if (s.prelink !== null) {
        this.#host.stats.actionsTrimmed += s.prelink.trimOlderThan(cutoffSeconds);
        if (s.prelink.length === 0) s.prelink = null;
      }
      const holdsSomething = s.conversationId !== null || s.prelink !== null;
      if (holdsSomething && now - s.lastActivityAt < sessionIdleTtlMs) continue;
      expiredActions += s.prelink?.length ?? 0;
      this.#sessions.delete(id);
      removed++;
    }
    if (expiredActions > 0) {
      this.#host.stats.actionsExpired += expiredActions;
      this.#host.log("warn", "pre-link actions expired with sessions that were never linked", { actions: expiredActions });
    }
    if (this.#sessions.size === 0) this.#stopSweep();
    return removed;
  }

  async close(): Promise<CloseSummary> {
    this.#closing = true;
    this.#stopSweep();
    const deadLetteredBefore = this.#host.stats.deadLettered;
    for (const s of this.#sessions.values()) this.#makeDue(s);
    if (!(await this.#idleWithin(this.#host.options.closeTimeoutMs))) {
      this.#abandoning = true;
      for (const s of this.#sessions.values()) {
        this.#timers.clearAll(s.timers);
        this.#pump(s);
      }
    }
    await this.onIdle();
    const summary: CloseSummary = {
      deadLettered: this.#host.stats.deadLettered - deadLetteredBefore, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 0, unlinkedSessions: 0,
    };
    for (const s of this.#sessions.values()) {
      if (s.prelink === null || s.prelink.length === 0) continue;
      summary.unlinkedSessions++;
      summary.unlinkedActions += s.prelink.length;
    }
    return summary;
  }

  #session(sessionId: string, now: number): SessionDelivery {
    let s = this.#sessions.get(sessionId);
    if (s === undefined) {
      s = newSessionDelivery(sessionId, now);
      this.#sessions.set(sessionId, s);
      this.#sweepTimer ??= startHousekeeping(
        this.#host.options.sweepIntervalMs,
        () => this.pruneIdleSessions(),
        (e) => this.#host.log("error", "idle sweep failed", { error: String(e) }),
      );
    } else {
      s.lastActivityAt = now;
    }
    return s;
  }

  #link(s: SessionDelivery, conversationId: string, now: number): void {
    const first = s.conversationId === null;
    s.conversationId = conversationId;
    let buffered = 0;
    if (first && s.prelink !== null) {
      // The flush note carries the window before the link, even if the last arrival was long ago.
      this.#host.stats.actionsTrimmed += s.prelink.trimOlderThan((now - this.#host.options.preLinkWindowMs) / 1000);
      buffered = s.prelink.length;
      if (buffered > 0) s.flush = s.prelink;
      s.prelink = null;
    }
    this.#host.events.emit("linked", { sessionId: s.sessionId, conversationId, bufferedActions: buffered });
    this.#pump(s);
  }

  #addPending(s: SessionDelivery, actions: readonly NoteAction[], now: number): void {
    (s.pending ??= new ActionBuffer()).append(actions, now / 1000);
    if (this.#timers.refresh(s.timers, "debounce")) return;
    const onDue = () => this.#makeDue(s);
    this.#timers.start(s.timers, "debounce", this.#host.options.postLinkDebounceMs, onDue);
    this.#timers.ensure(s.timers, "maxWait", this.#host.options.maxWaitMs, onDue);
  }

  /** The session's debounce (or max-wait) ended, or a flush/close asks for its note now. */
  #makeDue(s: SessionDelivery): void {
    this.#timers.clear(s.timers, "debounce");
    this.#timers.clear(s.timers, "maxWait");
    if (s.pending !== null && s.pending.length > 0) s.due = true;
    this.#pump(s);
  }

  /** Starts the session's next post when nothing blocks it. One post per session at a time. */
  #pump(s: SessionDelivery): void {
    if (s.posting !== null || s.timers.retry !== undefined || s.conversationId === null) return;
    if (this.#abandoning) {
      this.#abandon(s);
    } else if (s.flush !== null && s.flush.length > 0) {
      this.#post(s, "flush", s.flush);
    } else if (s.pending !== null && s.pending.length > 0 && (s.due || this.#closing)) {
      this.#post(s, "debounced", s.pending);
    }
  }

  #post(s: SessionDelivery, kind: NoteKind, source: ActionBuffer): void {
    const { maxNoteActions, maxNoteChars } = this.#host.options;
    const batch = source.takeNote(maxNoteActions, maxNoteChars);
    if (kind === "flush" && source.length === 0) s.flush = null;
    if (kind === "debounced") s.due = source.length > 0;
    const conversationId = s.conversationId as string;
    const body = this.#format(s, kind, batch);
    this.#inFlight++;
    s.inFlightActions = batch.length;
    s.posting = this.#deliver(s, kind, batch, conversationId, body);
  }

  async #deliver(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer, conversationId: string, body: string): Promise<void> {
    const attempt = s.failedAttempts + 1;
    const started = this.#host.options.now();
    try {
      const partId = await this.#host.post({ conversationId, body, sessionId: s.sessionId, attempt, idempotencyKey: randomUUID() });
      s.failedAttempts = 0;
      s.settledActions += batch.length;
      if (partId !== null) (s.partIds ??= []).push(partId);
      this.#host.stats.notesPosted++;
      this.#host.stats.actionsDelivered += batch.length;
      if (this.#host.events.has("delivered")) {
        const durationMs = this.#host.options.now() - started;
        this.#host.events.emit("delivered", { sessionId: s.sessionId, conversationId, partId, kind, actionCount: batch.length, attempt, durationMs });
      }
    } catch (error) {
        this.#onPostFailed(s, kind, batch, conversationId, body, error, started);
    } finally {
      s.posting = null;
      s.inFlightActions = 0;
      s.lastActivityAt = this.#host.options.now();
      this.#inFlight--;
      this.#pump(s);
      this.#checkIdle();
    }
  }

  #onPostFailed(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer, conversationId: string, body: string, error: unknown, started: number): void {
    const decision = this.#abandoning ? ({ kind: "give-up", reason: "shutdown" } as const) : this.#host.decide(error, s.failedAttempts + 1, started);
    // A hold the writer put on itself (throttling) is not a failure and spends no retry budget.
    if (decision.kind === "give-up" || decision.counted) {
      s.failedAttempts++;
      this.#host.stats.postFailures++;
    } else {
      this.#host.stats.throttled++;
    }
    if (decision.kind === "give-up") {
      this.#deadLetter(s, kind, batch, conversationId, body, decision.reason, error);
      return;
    }
    // The failed note goes back ahead of anything that arrived meanwhile: order is kept, and the
    // newer actions join the next attempt.
    if (kind === "flush") {
      if (s.flush === null) s.flush = batch;
      else s.flush.prependBuffer(batch);
    } else {
      (s.pending ??= new ActionBuffer()).prependBuffer(batch);
      s.due = true;
    }
    if (decision.counted) this.#host.stats.retries++;
    this.#timers.start(s.timers, "retry", decision.delayMs, () => this.#pump(s));
    this.#host.events.emit("retrying", { sessionId: s.sessionId, conversationId, kind, attempt: s.failedAttempts, delayMs: decision.delayMs, error });
  }

  #deadLetter(
    s: SessionDelivery,
    kind: NoteKind,
    batch: ActionBuffer,
    conversationId: string,
    body: string,
    reason: DeadLetterReason,
    error: unknown,
  ): void {
    const letter: DeadLetter = {
      id: randomUUID(),
      sessionId: s.sessionId,
      conversationId,
      reason,
      error: error instanceof Error ? error.message : String(error),
      attempts: s.failedAttempts,
      kind,
      actions: batch.toActions(),
      body,
      at: this.#host.options.now(),
    };
    this.#host.stats.deadLettersEvicted += this.#dead.add(letter);
    this.#host.reportDeadLetter(letter);
    s.settledActions += batch.length;
    s.failedAttempts = 0;
  }

  /** After the close deadline: whatever is not in flight goes to the dead letter. */
  #abandon(s: SessionDelivery): void {
    for (const kind of ["flush", "debounced"] as const) {
      const source = kind === "flush" ? s.flush : s.pending;
      if (source === null || source.length === 0) continue;
      const batch = new ActionBuffer();
      batch.appendBuffer(source);
      const body = this.#format(s, kind, batch);
      this.#deadLetter(s, kind, batch, s.conversationId as string, body, "shutdown", "close() timed out before delivery");
    }
    s.flush = null;
    s.due = false;
  }

  #format(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer): string {
    const binSeconds = kind === "flush" ? this.#host.options.binSeconds : 0;
    return formatNoteColumns(s.sessionId, batch.descriptions, batch.starts, binSeconds, this.#host.options.now() / 1000);
  }

  async #idleWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.onIdle().then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#timers.active === 0;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #stopSweep(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}


/** The default engine factory. */
export const memoryDelivery = (host: DeliveryHost): DeliveryEngine => new MemoryDelivery(host);
