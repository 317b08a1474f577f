import { DeliveryTimeoutError, PayloadError, WriterClosedError } from "../errors.js";
import { formatNoteColumns } from "../note/format.js";
import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import {
  WriterEventEmitter,
  type CloseSummary,
  type DeadLetter,
  type DeadLetterReason,
  type NoteKind,
  type WriterEvents,
} from "./events.js";
import { resolveWriterOptions, type ChatbotWriterOptions, type ResolvedWriterOptions } from "./options.js";
import { decideRetry } from "./retry-policy.js";
import { isBusy, newSessionDelivery, type SessionDelivery } from "./session-delivery.js";
import { emptyWriterStats, type WriterStats } from "./stats.js";
import { LazyAbort, startHousekeeping, TimerOwner, withTimeout } from "./timers.js";

const RESOLVED: Promise<void> = Promise.resolve();

/** What a platform call receives besides the conversation and the body. */
export interface PostContext {
  /** Aborted when the writer stops waiting for this call (`postTimeoutMs`). */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  /** 1 for the first try of this note. */
  readonly attempt: number;
}

/**
 * The delivery engine for any chatbot platform. A subclass implements `postNote` and
 * `redactPart`; this class owns pre-link buffering, the at-link flush, post-link debounce,
 * retries, ordering, dead letters, expiry and shutdown (see docs/delivery-policy.md).
 */
export abstract class BaseChatbotWriter {
  /** Options with defaults resolved. */
  protected readonly options: ResolvedWriterOptions;
  readonly #sessions = new Map<string, SessionDelivery>();
  readonly #events: WriterEventEmitter;
  readonly #timers: TimerOwner;
  readonly #deadLetters: DeadLetterStore;
  readonly #stats: WriterStats = emptyWriterStats();
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #sweepTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #abandoning = false;
  #closed: Promise<CloseSummary> | undefined;

  constructor(options: ChatbotWriterOptions) {
    this.options = resolveWriterOptions(options);
    const report = (error: unknown) => this.#log("error", "internal error in the chatbot writer", { error: String(error) });
    this.#events = new WriterEventEmitter(report);
    this.#timers = new TimerOwner(report, () => this.#checkIdle());
    this.#deadLetters = new DeadLetterStore(this.options.maxDeadLetters);
  }

  /**
   * Posts `body` as an internal note in the conversation; returns the platform's id for the new
   * note, or null where the platform has none. Throwing means "not delivered": throw a
   * `RetryableDeliveryError` (optionally with `retryAfterMs`) or a `PermanentDeliveryError`.
   */
  protected abstract postNote(conversationId: string, body: string, context: PostContext): Promise<string | null>;

  /** Deletes or blanks an earlier note; a no-op where the platform cannot. */
  protected abstract redactPart(conversationId: string, partId: string): Promise<void>;

  /**
   * Routes actions: into the pre-link buffer while the session has no conversation, else into
   * the session's debounced note. `conversationId` may be null to use the link the writer knows.
   * The caller's objects are read, never kept or mutated.
   */
  writeActions(
    conversationId: string | null | undefined,
    sessionId: string,
    actions: readonly NoteAction[],
    _userId?: string | null,
    _email?: string | null,
  ): Promise<void> {
    // Not `async`: this runs for every batch, and a shared settled promise is cheaper than a new one.
    try {
      this.#ingest(conversationId, sessionId, actions);
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #ingest(conversationId: string | null | undefined, sessionId: string, actions: readonly NoteAction[]): void {
    if (this.#closing) throw new WriterClosedError();
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    if (!Array.isArray(actions)) throw new PayloadError("actions must be an array");
    const now = this.options.now();
    const s = this.#session(sessionId, now);
    this.#stats.actionsReceived += actions.length;
    const target = conversationId || s.conversationId;
    if (target) {
      if (s.conversationId !== target) this.#link(s, target, now);
      if (actions.length > 0) this.#addPending(s, actions, now);
      return;
    }
    const prelink = (s.prelink ??= new ActionBuffer());
    prelink.append(actions, now / 1000);
    this.#stats.actionsTrimmed += prelink.trimOlderThan((now - this.options.preLinkWindowMs) / 1000);
  }

  /**
   * Links a session to a conversation and posts its pre-link buffer there as one binned note.
   * The same ids again are a no-op; a different conversation re-targets later notes.
   * Resolves once recorded; the note itself is delivered (and retried) in the background.
   */
  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    if (typeof conversationId !== "string" || conversationId === "") {
      throw new PayloadError("conversation_id is required");
    }
    const now = this.options.now();
    const s = this.#session(sessionId, now);
    if (s.conversationId !== conversationId) this.#link(s, conversationId, now);
  }

  /** Posts every owed or debounced note now; resolves when those posts have settled. */
  async flush(): Promise<void> {
    for (const s of this.#sessions.values()) this.#makeDue(s);
    this.#checkIdle();
    for (;;) {
      const posting: Promise<void>[] = [];
      for (const s of this.#sessions.values()) if (s.posting) posting.push(s.posting);
      if (posting.length === 0) return;
      await Promise.all(posting);
    }
  }

  /** Resolves when no delivery timer is pending and no post is in flight. */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops intake, posts everything owed, and waits for it, bounded by `closeTimeoutMs`; what is
   * still undelivered then is dead-lettered. Safe to call twice (same result).
   */
  close(): Promise<CloseSummary> {
    this.#closing = true;
    this.#closed ??= this.#drain();
    return this.#closed;
  }

  /** Subscribes to a lifecycle event; returns the unsubscribe function. */
  on<E extends keyof WriterEvents>(event: E, listener: (payload: WriterEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Ids of the session's delivered notes, oldest first. */
  getPartIds(sessionId: string): readonly string[] {
    return [...(this.#sessions.get(sessionId)?.partIds ?? [])];
  }

  /** Returns the session's recorded part ids and forgets them. */
  takePartIds(sessionId: string): string[] {
    const s = this.#sessions.get(sessionId);
    const ids = s?.partIds ?? [];
    if (s) s.partIds = null;
    return ids;
  }

  /** The conversation the writer delivers this session's notes to, if linked. */
  linkedConversation(sessionId: string): string | null {
    return this.#sessions.get(sessionId)?.conversationId ?? null;
  }

  /** Undelivered notes kept for inspection, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return this.#deadLetters.list();
  }

  /** Returns the dead letters and forgets them (e.g. to re-drive them elsewhere). */
  takeDeadLetters(): DeadLetter[] {
    return this.#deadLetters.take();
  }

  /** Counters and gauges for metrics. */
  stats(): WriterStats {
    return { ...this.#stats, sessions: this.#sessions.size, inFlight: this.#inFlight, deadLetters: this.#deadLetters.size };
  }

  /** Removes sessions idle past their expiry; runs periodically, public for tests and tools. */
  pruneIdleSessions(): number {
    const now = this.options.now();
    const cutoffSeconds = (now - this.options.preLinkWindowMs) / 1000;
    let removed = 0;
    for (const [id, s] of this.#sessions) {
      if (isBusy(s)) continue;
      if (s.prelink !== null) {
        this.#stats.actionsTrimmed += s.prelink.trimOlderThan(cutoffSeconds);
        if (s.prelink.length === 0) s.prelink = null;
      }
      const idleFor = now - s.lastActivityAt;
      const keep = s.conversationId !== null || s.prelink !== null ? idleFor < this.options.sessionIdleTtlMs : false;
      if (keep) continue;
      this.#stats.actionsExpired += s.prelink?.length ?? 0;
      this.#sessions.delete(id);
      removed++;
    }
    if (this.#sessions.size === 0) this.#stopSweep();
    return removed;
  }

  #session(sessionId: string, now: number): SessionDelivery {
    let s = this.#sessions.get(sessionId);
    if (s === undefined) {
      s = newSessionDelivery(sessionId, now);
      this.#sessions.set(sessionId, s);
      this.#sweepTimer ??= startHousekeeping(this.options.sweepIntervalMs, () => this.pruneIdleSessions(), (e) =>
        this.#log("error", "idle sweep failed", { error: String(e) }),
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
      this.#stats.actionsTrimmed += s.prelink.trimOlderThan((now - this.options.preLinkWindowMs) / 1000);
      buffered = s.prelink.length;
      if (buffered > 0) s.flush = s.prelink;
      s.prelink = null;
    }
    this.#events.emit("linked", { sessionId: s.sessionId, conversationId, bufferedActions: buffered });
    this.#pump(s);
  }

  #addPending(s: SessionDelivery, actions: readonly NoteAction[], now: number): void {
    (s.pending ??= new ActionBuffer()).append(actions, now / 1000);
    if (this.#timers.refresh(s.timers, "debounce")) return;
    const onDue = () => this.#makeDue(s);
    this.#timers.start(s.timers, "debounce", this.options.postLinkDebounceMs, onDue);
    this.#timers.ensure(s.timers, "maxWait", this.options.maxWaitMs, onDue);
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
      return;
    }
    if (s.flush !== null && s.flush.length > 0) {
      this.#post(s, "flush", s.flush);
    } else if (s.pending !== null && s.pending.length > 0 && (s.due || this.#closing)) {
      this.#post(s, "debounced", s.pending);
    }
  }

  #post(s: SessionDelivery, kind: NoteKind, source: ActionBuffer): void {
    const batch = source.takeNote(this.options.maxNoteActions, this.options.maxNoteChars);
    if (kind === "flush" && source.length === 0) s.flush = null;
    if (kind === "debounced") s.due = source.length > 0;
    const conversationId = s.conversationId as string;
    const binSeconds = kind === "flush" ? this.options.binSeconds : 0;
    const body = formatNoteColumns(s.sessionId, batch.descriptions, batch.starts, binSeconds, this.options.now() / 1000);
    this.#inFlight++;
    s.posting = this.#deliver(s, kind, batch, conversationId, body);
  }

  async #deliver(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer, conversationId: string, body: string): Promise<void> {
    const attempt = s.failedAttempts + 1;
    try {
      const partId = await this.#callPostNote(conversationId, body, s.sessionId, attempt);
      s.failedAttempts = 0;
      if (partId !== null) (s.partIds ??= []).push(partId);
      this.#stats.notesPosted++;
      this.#stats.actionsDelivered += batch.length;
      if (this.#events.has("delivered")) {
        this.#events.emit("delivered", { sessionId: s.sessionId, conversationId, partId, kind, actionCount: batch.length, attempt });
      }
    } catch (error) {
      this.#onPostFailed(s, kind, batch, conversationId, body, error);
    } finally {
      s.posting = null;
      s.lastActivityAt = this.options.now();
      this.#inFlight--;
      this.#pump(s);
      this.#checkIdle();
    }
  }

  async #callPostNote(conversationId: string, body: string, sessionId: string, attempt: number): Promise<string | null> {
    const abort = new LazyAbort();
    const context: PostContext = {
      get signal() {
        return abort.signal;
      },
      sessionId,
      attempt,
    };
    let work: Promise<unknown>;
    try {
      // A JavaScript subclass may return a plain value or throw synchronously: both are normalised.
      work = Promise.resolve(this.postNote(conversationId, body, context));
    } catch (error) {
      work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const timeoutMs = this.options.postTimeoutMs;
    const result: unknown = await withTimeout(work, timeoutMs, () => new DeliveryTimeoutError(timeoutMs), (e) => abort.abort(e));
    if (typeof result === "string" && result !== "") return result;
    if (typeof result === "number" && Number.isFinite(result)) return String(result);
    return null;
  }

  #onPostFailed(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer, conversationId: string, body: string, error: unknown): void {
    s.failedAttempts++;
    this.#stats.postFailures++;
    const decision = this.#abandoning
      ? ({ kind: "give-up", reason: "shutdown" } as const)
      : decideRetry(error, s.failedAttempts, this.options.retry, this.options.random);
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
    this.#stats.retries++;
    this.#timers.start(s.timers, "retry", decision.delayMs, () => this.#pump(s));
    this.#events.emit("retrying", { sessionId: s.sessionId, conversationId, kind, attempt: s.failedAttempts, delayMs: decision.delayMs, error });
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
      sessionId: s.sessionId,
      conversationId,
      reason,
      error: error instanceof Error ? error.message : String(error),
      attempts: s.failedAttempts,
      kind,
      actions: batch.toActions(),
      body,
      at: this.options.now(),
    };
    s.failedAttempts = 0;
    this.#stats.deadLettered++;
    this.#stats.deadLetteredActions += batch.length;
    const evicted = this.#deadLetters.add(letter);
    if (evicted > 0) this.#stats.deadLettersEvicted += evicted;
    this.#log("warn", "note dead-lettered", {
      productId: this.options.productId,
      sessionId: s.sessionId,
      conversationId,
      reason,
      actions: batch.length,
      error: letter.error,
    });
    this.#events.emit("dead-lettered", letter);
  }

  /** After the close deadline: whatever is not in flight goes to the dead letter. */
  #abandon(s: SessionDelivery): void {
    const conversationId = s.conversationId as string;
    for (const kind of ["flush", "debounced"] as const) {
      const source = kind === "flush" ? s.flush : s.pending;
      if (source === null || source.length === 0) continue;
      const batch = new ActionBuffer();
      batch.appendBuffer(source);
      const binSeconds = kind === "flush" ? this.options.binSeconds : 0;
      const body = formatNoteColumns(s.sessionId, batch.descriptions, batch.starts, binSeconds, this.options.now() / 1000);
      this.#deadLetter(s, kind, batch, conversationId, body, "shutdown", "close() timed out before delivery");
    }
    s.flush = null;
    s.due = false;
  }

  async #drain(): Promise<CloseSummary> {
    this.#stopSweep();
    const deadLetteredBefore = this.#stats.deadLettered;
    for (const s of this.#sessions.values()) this.#makeDue(s);
    if (!(await this.#idleWithin(this.options.closeTimeoutMs))) {
      this.#abandoning = true;
      for (const s of this.#sessions.values()) {
        this.#timers.clearAll(s.timers);
        this.#pump(s);
      }
    }
    await this.onIdle();
    const deadLettered = this.#stats.deadLettered - deadLetteredBefore;
    const summary: CloseSummary = { deadLettered, unlinkedActions: 0, unlinkedSessions: 0 };
    for (const s of this.#sessions.values()) {
      if (s.prelink === null || s.prelink.length === 0) continue;
      summary.unlinkedSessions++;
      summary.unlinkedActions += s.prelink.length;
    }
    if (summary.unlinkedActions > 0) {
      this.#log("warn", "closed with actions of never-linked sessions", { ...summary, productId: this.options.productId });
    }
    this.#events.emit("closed", summary);
    return summary;
  }

  async #idleWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const idle = this.onIdle().then(() => true as const);
    try {
      return await Promise.race([idle, timedOut]);
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

  #log(level: "warn" | "error", message: string, fields: Record<string, unknown>): void {
    try {
      this.options.logger[level]?.(message, fields);
    } catch {
      // A broken logger must not break delivery.
    }
  }
}
