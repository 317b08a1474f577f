import { DeliveryTimeoutError, PayloadError, WriterClosedError } from "../errors.js";
import type { NoteAction } from "../payloads/types.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import type { DeliveryEngine, DeliveryHost } from "./delivery-engine.js";
import { WriterEventEmitter, type CloseSummary, type DeadLetter, type WriterEvents } from "./events.js";
import { memoryDelivery } from "./memory-delivery.js";
import { resolveWriterOptions, type ChatbotWriterOptions, type ResolvedWriterOptions } from "./options.js";
import { decideRetry } from "./retry-policy.js";
import { emptyWriterStats, type WriterStats } from "./stats.js";
import { LazyAbort, settleWithin, withTimeout } from "./timers.js";

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
 * retries, ordering, dead letters, expiry and shutdown (see docs/delivery-policy.md). Buffers
 * live in this process by default, or in Redis with the `delivery` option.
 */
export abstract class BaseChatbotWriter {
  /** Options with defaults resolved. */
  protected readonly options: ResolvedWriterOptions;
  readonly #events: WriterEventEmitter;
  readonly #deadLetters: DeadLetterStore;
  readonly #stats: WriterStats = emptyWriterStats();
  readonly #engine: DeliveryEngine;
  #closing = false;
  #closed: Promise<CloseSummary> | undefined;

  constructor(options: ChatbotWriterOptions) {
    this.options = resolveWriterOptions(options);
    this.#events = new WriterEventEmitter((error) => this.#log("error", "an event listener threw", { error: String(error) }));
    this.#deadLetters = new DeadLetterStore(this.options.maxDeadLetters);
    const host: DeliveryHost = {
      options: this.options,
      stats: this.#stats,
      events: this.#events,
      post: (conversationId, body, sessionId, attempt) => this.#post(conversationId, body, sessionId, attempt),
      decide: (error, failedAttempts) => decideRetry(error, failedAttempts, this.options.retry, this.options.random),
      deadLetter: (letter) => this.#recordDeadLetter(letter),
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
  ): Promise<void> {
    // Not `async`: this runs for every batch, and the engine's settled promise is cheaper than a new one.
    if (this.#closing) return Promise.reject(new WriterClosedError());
    if (typeof sessionId !== "string" || sessionId === "") return Promise.reject(new PayloadError("session_id is required"));
    if (!Array.isArray(actions)) return Promise.reject(new PayloadError("actions must be an array"));
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
    if (typeof conversationId !== "string" || conversationId === "") {
      throw new PayloadError("conversation_id is required");
    }
    await this.#engine.onSessionLinked(sessionId, conversationId);
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

  /** Undelivered notes this process dead-lettered, oldest first. */
  deadLetters(): readonly DeadLetter[] {
    return this.#deadLetters.list();
  }

  /** Returns the dead letters and forgets them (e.g. to re-drive them elsewhere). */
  takeDeadLetters(): DeadLetter[] {
    return this.#deadLetters.take();
  }

  /** Counters and gauges for metrics. */
  stats(): WriterStats {
    return { ...this.#stats, sessions: this.#engine.sessionCount, inFlight: this.#engine.inFlight, deadLetters: this.#deadLetters.size };
  }

  /** Removes sessions idle past their expiry; runs periodically, public for tests and tools. */
  pruneIdleSessions(): number {
    return this.#engine.pruneIdleSessions();
  }

  async #post(conversationId: string, body: string, sessionId: string, attempt: number): Promise<string | null> {
    try {
      return await this.#callPostNote(conversationId, body, sessionId, attempt);
    } catch (error) {
      // A call that timed out may still land: wait for it (bounded) rather than start a second
      // call for the same session beside it, and count a late success as delivered.
      if (error instanceof DeliveryTimeoutError && error.late !== undefined) {
        const late = await settleWithin(error.late as Promise<string | null>, this.options.postTimeoutMs);
        if (late.settled) return late.value;
      }
      throw error;
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
    const result = await withTimeout(work, timeoutMs, () => new DeliveryTimeoutError(timeoutMs, work.then(toPartId)), (e) => abort.abort(e));
    return toPartId(result);
  }

  #recordDeadLetter(letter: DeadLetter): void {
    this.#stats.deadLettered++;
    this.#stats.deadLetteredActions += letter.actions.length;
    this.#stats.deadLettersEvicted += this.#deadLetters.add(letter);
    this.#log("warn", "note dead-lettered", {
      productId: this.options.productId,
      sessionId: letter.sessionId,
      conversationId: letter.conversationId,
      reason: letter.reason,
      actions: letter.actions.length,
      error: letter.error,
    });
    this.#events.emit("dead-lettered", letter);
  }

  #log(level: "warn" | "error", message: string, fields: Record<string, unknown>): void {
    try {
      this.options.logger[level]?.(message, fields);
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
