import type { DeliveryHost } from "./delivery-engine.js";
import type { NoteRecord } from "./note-records.js";
import type { PendingRedaction, SessionDelivery } from "./session-delivery.js";
import type { TimerOwner } from "./timers.js";

/** What the lane needs from its engine. */
export interface RedactionLaneHooks {
  /** A redaction call starts (the engine counts it in flight). */
  begin(): void;
  /** A redaction call settled. */
  end(): void;
  /** True once `close()` reached its bound: nothing new starts. */
  abandoning(): boolean;
}

/**
 * The memory engine's redactions after confirmed summaries: one call at a time per session (in
 * snapshot order), each failure retried with the writer's retry policy (backoff, `Retry-After`,
 * bounded budget); a permanent error, a gone conversation or a spent budget gives that part up,
 * counted and logged. Independent of the session's notes: a redaction never delays a note.
 */
export class RedactionLane {
  readonly #host: DeliveryHost;
  readonly #timers: TimerOwner;
  readonly #hooks: RedactionLaneHooks;

  constructor(host: DeliveryHost, timers: TimerOwner, hooks: RedactionLaneHooks) {
    this.#host = host;
    this.#timers = timers;
    this.#hooks = hooks;
  }

  /** Queues the snapshot of a confirmed summary. */
  enqueue(s: SessionDelivery, records: readonly NoteRecord[]): void {
    if (records.length === 0) return;
    const queue = (s.redactions ??= []);
    for (const r of records) queue.push({ conversationId: r.conversationId, partId: r.partId, failedAttempts: 0, firstTriedAt: 0 });
    this.pump(s);
  }

  /** Starts the session's next redaction when nothing blocks it. */
  pump(s: SessionDelivery): void {
    if (s.redacting !== null || s.timers.redact !== undefined) return;
    const next = s.redactions?.[0];
    if (next === undefined) {
      s.redactions = null;
      return;
    }
    if (this.#hooks.abandoning()) {
      this.abandon(s);
      return;
    }
    this.#hooks.begin();
    s.redacting = this.#redact(s, next);
  }

  /** After the close bound: what is still queued is given up (counted, logged, reported). Returns how many. */
  abandon(s: SessionDelivery): number {
    const left = s.redactions ?? [];
    s.redactions = null;
    this.#timers.clear(s.timers, "redact");
    for (const r of left) this.#giveUp(s, r, "shutdown", "close() timed out before the redaction");
    return left.length;
  }

  async #redact(s: SessionDelivery, r: PendingRedaction): Promise<void> {
    const now = this.#host.options.now;
    if (r.firstTriedAt === 0) r.firstTriedAt = now();
    try {
      await this.#host.redact(r.conversationId, r.partId, s.sessionId);
      s.redactions?.shift();
      this.#host.stats.redactions++;
      this.#host.events.emit("redacted", { sessionId: s.sessionId, conversationId: r.conversationId, partId: r.partId, attempt: r.failedAttempts + 1 });
    } catch (error) {
      this.#onFailed(s, r, error);
    } finally {
      s.redacting = null;
      s.lastActivityAt = now();
      this.#hooks.end();
      this.pump(s);
    }
  }

  #onFailed(s: SessionDelivery, r: PendingRedaction, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const decision = this.#host.decide(error, r.failedAttempts + 1, r.firstTriedAt);
    if (decision.kind === "give-up" || decision.counted) r.failedAttempts++;
    if (decision.kind === "give-up") {
      s.redactions?.shift();
      this.#giveUp(s, r, decision.reason, message);
      return;
    }
    this.#host.stats.redactionRetries++;
    this.#host.log("debug", "redaction failed; trying again", { sessionId: s.sessionId, conversationId: r.conversationId, partId: r.partId, delayMs: decision.delayMs, error: message });
    this.#timers.start(s.timers, "redact", decision.delayMs, () => this.pump(s));
    this.#host.events.emit("redaction-retrying", {
      sessionId: s.sessionId, conversationId: r.conversationId, partId: r.partId, attempt: r.failedAttempts, delayMs: decision.delayMs, error: message,
    });
  }

  #giveUp(
    s: SessionDelivery,
    r: PendingRedaction,
    reason: "retries_exhausted" | "permanent_error" | "conversation_gone" | "hold_expired" | "shutdown",
    error: string,
  ): void {
    this.#host.stats.redactionsFailed++;
    this.#host.log("warn", "redaction given up; the note stays beside its summary", {
      productId: this.#host.options.productId, sessionId: s.sessionId, conversationId: r.conversationId, partId: r.partId, reason, attempts: r.failedAttempts, error,
    });
    this.#host.events.emit("redaction-failed", {
      sessionId: s.sessionId, conversationId: r.conversationId, partId: r.partId, attempts: r.failedAttempts, reason, error,
    });
  }
}
