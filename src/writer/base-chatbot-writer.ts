import { checkConversationId, conversationIdProblem } from "../conversation-id.js";
import { PayloadError, WriterClosedError } from "../errors.js";
import type { NoteAction } from "../payloads/types.js";
import { formatSummaryNote } from "../note/format.js";
import type { DeliveryEngine, DeliveryHost, PostCall, RedriveOutcome, SummaryCoverage, SummaryOutcome, WriteOutcome } from "./delivery-engine.js";
import { WriterEventEmitter, type CloseSummary, type DeadLetter, type WriterEvents } from "./events.js";
import { memoryDelivery } from "./memory-delivery.js";
import { resolveWriterOptions, type ChatbotWriterOptions, type ResolvedWriterOptions } from "./options.js";
import { decideRetry } from "./retry-policy.js";
import { emptyWriterStats, type WriterStats } from "./stats.js";


/** What a platform call receives besides the conversation and the body. */
export interface PostContext {
  /**
   * Aborted only when the writer gives up waiting for good (at `close()`'s bound). A call that
   * outlives `postTimeoutMs` is still awaited, never aborted: it may have been accepted, and the
   * session's next call waits for it, so notes cannot land out of order.
   */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  /** 1 for the first try of this note. */
  readonly attempt: number;
  /**
   * Stable per note, the same on every retry of that note: forward it where the platform
   * deduplicates requests (e.g. an `Idempotency-Key` header), so a retried call that had in fact
   * landed is not posted twice.
   */
  readonly idempotencyKey: string;
}

/**
 * The delivery engine for any chatbot platform. A subclass implements `postNote` and
 * `redactPart`; this class owns pre-link buffering, the at-link flush, post-link debounce,
 * retries, ordering, dead letters, expiry and shutdown (see docs/delivery-policy.md). Buffers
 * live in this process by default, or in Redis with the `delivery` option.
 */
export abstract class BaseChatbotWriter {
  /** Options with defaults resolved. */
  protected readonly options: ResolvedWriterOptions;
  readonly #events: WriterEventEmitter;
  /** Aborted once the writer stops waiting for calls for good (after `close()`). */
  readonly #giveUp = new AbortController();
  readonly #stats: WriterStats = emptyWriterStats();
  readonly #engine: DeliveryEngine;
  #closing = false;
  #closed: Promise<CloseSummary> | undefined;

  constructor(options: ChatbotWriterOptions) {
    this.options = resolveWriterOptions(options);
    this.#events = new WriterEventEmitter((error) => this.#log("error", "an event listener threw", { error: String(error) }));
    const host: DeliveryHost = {
      options: this.options,
      stats: this.#stats,
      events: this.#events,
      post: (call) => this.#post(call),
      redact: (conversationId, partId) => this.#redact(conversationId, partId),
      decide: (error, failedAttempts, heldSinceMs) =>
        decideRetry(error, failedAttempts, this.options.retry, this.options.random, this.options.now() - heldSinceMs, this.options.maxHoldMs),
      reportDeadLetter: (letter) => this.#reportDeadLetter(letter),
      log: (level, message, fields) => this.#log(level, message, fields),
    };
    this.#engine = (options.delivery ?? memoryDelivery)(host);
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
   * the session's debounced note. `conversationId` may be null to use the link the writer knows;
   * the in-memory engine forgets links (and part ids) of sessions idle for `sessionIdleTtlMs`,
   * so pass the conversation id from the session state, as the manager does.
   * The caller's objects are read, never kept or mutated.
   */
  writeActions(
    conversationId: string | null | undefined,
    sessionId: string,
    actions: readonly NoteAction[],
    _userId?: string | null,
    _email?: string | null,
  ): Promise<WriteOutcome> {
    // Not `async`: this runs for every batch, and the engine's settled promise is cheaper than a new one.
    if (this.#closing) return Promise.reject(new WriterClosedError());
    if (typeof sessionId !== "string" || sessionId === "") return Promise.reject(new PayloadError("session_id is required"));
    if (!Array.isArray(actions)) return Promise.reject(new PayloadError("actions must be an array"));
    const badId = conversationId ? conversationIdProblem(conversationId) : null;
    if (badId !== null) return Promise.reject(badId);
    this.#stats.actionsReceived += actions.length;
    return this.#engine.writeActions(conversationId || null, sessionId, actions);
  }

  /**
   * Links a session to a conversation and posts its pre-link buffer there as one binned note.
   * The same ids again are a no-op; a different conversation re-targets later notes.
   * Resolves once recorded; the note itself is delivered (and retried) in the background.
   */
  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    await this.#engine.onSessionLinked(sessionId, checkConversationId(conversationId));
  }

  /**
   * The summary overwrite step (docs/summaries.md): snapshots the session's delivered notes whose
   * actions all lie in `coverage`, posts `formatChatbotNoteHeader(sessionId, now)` + `summary` as
   * a note on the session's ordered delivery (after what it already owes, with its own
   * idempotency key), and only once the platform confirmed that note redacts exactly the
   * snapshot through `redactPart`, retrying failed redactions with backoff. A summary that is
   * dead-lettered redacts nothing. Resolves once queued (`status: "queued"`), or at once with
   * `status: "unlinked"` when the session has no conversation (nothing is posted).
   * @throws PayloadError for an empty session id or summary; WriterClosedError after close();
   *   Error when the delivery engine does not support summaries.
   */
  async postSummary(sessionId: string, summary: string, coverage: SummaryCoverage): Promise<SummaryOutcome> {
    if (this.#closing) throw new WriterClosedError();
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    if (typeof summary !== "string" || summary.trim() === "") throw new PayloadError("summary must be a non-empty string");
    if (coverage === null || typeof coverage !== "object") throw new PayloadError("coverage must be { sequences } or { latestActions }");
    if (this.#engine.summarize === undefined) throw new Error("this delivery engine does not support summaries");
    const body = formatSummaryNote(sessionId, summary, this.options.now() / 1000);
    return this.#engine.summarize({ sessionId, body, coverage });
  }

  /** Whether this writer's delivery engine can run the summary overwrite step ({@link postSummary}). */
  get supportsSummaries(): boolean {
    return this.#engine.summarize !== undefined;
  }

  /** Posts every owed or debounced note now; resolves when those posts have settled. */
  flush(): Promise<void> {
    return this.#engine.flush();
  }

  /** Resolves when no delivery timer is pending and no post is in flight (in this process). */
  onIdle(): Promise<void> {
    return this.#engine.onIdle();
  }

  /**
   * Stops intake, posts everything owed, and waits for it, bounded by `closeTimeoutMs`; what is
   * still undelivered then is dead-lettered. Safe to call twice (same result).
   */
  close(): Promise<CloseSummary> {
    this.#closing = true;
    this.#closed ??= this.#engine.close().then((summary) => {
      this.#giveUp.abort(new WriterClosedError());
      if (summary.unlinkedActions > 0) {
        this.#log("warn", "closed with actions of never-linked sessions", { ...summary, productId: this.options.productId });
      }
      this.#events.emit("closed", summary);
      return summary;
    });
    return this.#closed;
  }

  /** Subscribes to a lifecycle event; returns the unsubscribe function. */
  on<E extends keyof WriterEvents>(event: E, listener: (payload: WriterEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Ids of the session's delivered notes, oldest first. */
  getPartIds(sessionId: string): Promise<string[]> {
    return this.#engine.getPartIds(sessionId);
  }

  /** Returns the session's recorded part ids and forgets them. */
  takePartIds(sessionId: string): Promise<string[]> {
    return this.#engine.takePartIds(sessionId);
  }

  /** The conversation the writer delivers this session's notes to, if linked. */
  linkedConversation(sessionId: string): Promise<string | null> {
    return this.#engine.linkedConversation(sessionId);
  }

  /** Undelivered notes, oldest first (with Redis delivery: the shared list every instance sees). */
  deadLetters(): Promise<DeadLetter[]> {
    return this.#engine.deadLetters();
  }

  /** Returns the dead letters and removes them (e.g. to re-drive them elsewhere). */
  takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#engine.takeDeadLetters();
  }

  /**
   * Queues the actions of the given dead letters (all when `ids` is omitted) again for the
   * session's current conversation, and removes those letters; a note that fails again is
   * dead-lettered again.
   */
  redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome> {
    if (this.#closing) return Promise.reject(new WriterClosedError());
    return this.#engine.redriveDeadLetters(ids);
  }

  /** Counters and gauges for metrics. */
  stats(): WriterStats {
    return { ...this.#stats, sessions: this.#engine.sessionCount, inFlight: this.#engine.inFlight, deadLetters: this.#engine.deadLetterCount };
  }

  /** Removes sessions idle past their expiry; runs periodically, public for tests and tools. */
  pruneIdleSessions(): number {
    return this.#engine.pruneIdleSessions();
  }

  /**
   * One platform call. It is awaited until it settles, however long: a call past `postTimeoutMs`
   * is reported slow (`onSlow`, a warning) but may still land, so the session's next call must
   * not start beside it.
   */
  async #post(call: PostCall): Promise<string | null> {
    const { conversationId, body, sessionId, attempt, idempotencyKey } = call;
    const context: PostContext = { signal: this.#giveUp.signal, sessionId, attempt, idempotencyKey };
    let work: Promise<unknown>;
    try {
      // A JavaScript subclass may return a plain value or throw synchronously: both are normalised.
      work = Promise.resolve(this.postNote(conversationId, body, context));
    } catch (error) {
      work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const timeoutMs = this.options.postTimeoutMs;
    const slow = setTimeout(() => {
      this.#log("warn", "platform call still unsettled past postTimeoutMs; waiting for it before the next call", {
        productId: this.options.productId, sessionId, conversationId, attempt, timeoutMs,
      });
      try {
        call.onSlow?.();
      } catch {
        // The engine's own hook; its errors are its own to report.
      }
    }, timeoutMs);
    try {
      return toPartId(await work);
    } catch (error) {
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      clearTimeout(slow);
    }
  }

  async #redact(conversationId: string, partId: string): Promise<void> {
    try {
      await this.redactPart(conversationId, partId);
    } catch (error) {
      throw error instanceof Error ? error : new Error(String(error));
    }
  }

  #reportDeadLetter(letter: DeadLetter): void {
    this.#stats.deadLettered++;
    this.#stats.deadLetteredActions += letter.actions.length;
    this.#log("warn", "note dead-lettered", {
      productId: this.options.productId,
      id: letter.id,
      sessionId: letter.sessionId,
      conversationId: letter.conversationId,
      reason: letter.reason,
      attempts: letter.attempts,
      error: letter.error,
      actionCount: letter.actions.length,
      // What an operator needs to recover the note by hand if it is never re-driven.
      actions: letter.actions.map((a) => ({ timestamp_start: a.timestamp_start, description: a.description })),
    });
    this.#events.emit("dead-lettered", letter);
  }

  #log(level: "debug" | "info" | "warn" | "error", message: string, fields: Record<string, unknown>): void {
    try {
      const logger = this.options.logger;
      logger[level]?.(message, fields);
    } catch {
      // A broken logger must not break delivery.
    }
  }
}

/** A platform's answer as a part id: a non-empty string, a finite number as text, else null. */
function toPartId(result: unknown): string | null {
  if (typeof result === "string" && result !== "") return result;
  if (typeof result === "number" && Number.isFinite(result)) return String(result);
  return null;
}
