import { ConversationGoneError, PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";
import { BaseChatbotWriter, type PostContext } from "../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../writer/options.js";

/** One call of `postNote`, as the platform would have seen it. */
export interface RecordedCall {
  readonly conversationId: string;
  readonly sessionId: string;
  readonly body: string;
  readonly attempt: number;
  /** The note's idempotency key as the writer passed it (`PostContext.idempotencyKey`). */
  readonly idempotencyKey: string;
  /** The writer's clock when the call started, epoch ms. */
  readonly at: number;
  /** The writer's clock when the call settled, epoch ms; undefined while it has not. */
  settledAt?: number;
  outcome: "pending" | "delivered" | "failed" | "hung";
  partId: string | null;
  /** Position of the call's settling on the writer's one timeline of calls and redactions (see {@link RecordedRedaction.tick}). */
  settledTick?: number;
}

/** One `redactPart` call. */
export interface RecordedRedaction {
  readonly conversationId: string;
  readonly partId: string;
  /** The writer's clock when the call started, epoch ms. */
  readonly at: number;
  /**
   * Position of the call's start on one counter shared with posts' `settledTick`: a redaction
   * with a larger tick than a post's `settledTick` started after that post was confirmed.
   */
  readonly tick: number;
  outcome: "redacted" | "failed";
}

/** What a retryable failure looks like to the writer (see {@link RetryableDeliveryError}). */
export interface RetryableFailure {
  /** The platform's HTTP status; leave it out for "no answer" (a reset connection, a network error). */
  status?: number;
  /** The platform's retry hint, in ms (`Retry-After`, a rate-limit reset). */
  retryAfterMs?: number;
  /** A hold the writer put on itself (spacing): never sent, spends no retry budget. */
  throttled?: boolean;
  message?: string;
}

/** A call held open by the test until it says how the call ends (see {@link RecordingChatbotWriter.gateNext}). */
export interface PostGate {
  /** Resolves once the gated call has started. */
  readonly started: Promise<RecordedCall>;
  /** Lets the call succeed (with `partId`, or the writer's next default id). */
  release(partId?: string | null): void;
  /** Lets the call fail with `error`. */
  fail(error: unknown): void;
}

/** How the next `postNote` call behaves. */
export type PostBehaviour =
  | { kind: "ok"; partId?: string | null }
  | { kind: "fail"; error?: unknown }
  /** Settles only when the writer gives up on it for good (its signal aborts, after `close()`). */
  | { kind: "hang" }
  /** Never settles, not even when its signal aborts (a platform that ignores cancellation). */
  | { kind: "never" }
  /** Takes `ms`, then succeeds, or throws `error` when given. */
  | { kind: "delay"; ms: number; error?: unknown }
  /** Calls `onStart` with the call, waits for `until`, then behaves as the behaviour it resolves to. */
  | { kind: "wait"; until: PromiseLike<PostBehaviour>; onStart?: (call: RecordedCall) => void };

/**
 * A writer for tests: records every `postNote`/`redactPart` call instead of calling a platform,
 * and can be told to fail, hang, slow down or return chosen ids. Ship-quality, so users can test
 * their own integration code without a platform.
 */
export class RecordingChatbotWriter extends BaseChatbotWriter {
  /** Every call, in the order they started. */
  readonly calls: RecordedCall[] = [];
  /** Every `redactPart` call, failed ones included (see `outcome`). */
  readonly redactions: RecordedRedaction[] = [];
  readonly #script: PostBehaviour[] = [];
  readonly #redactScript: unknown[] = [];
  #tick = 0;
  readonly #inFlightBySession = new Map<string, number>();
  #maxConcurrentPerSession = 0;
  #nextId = 1;
  /**
   * Chooses a call's behaviour from the call itself (its body, session, attempt…), before the
   * script is consulted; return undefined to fall back to the script. Handy when several writers
   * share one Redis and any of them may post a given note.
   */
  behaviourFor: ((call: RecordedCall) => PostBehaviour | undefined) | undefined = undefined;
  /** Returns the id for a delivered note; by default `part-1`, `part-2`, … */
  partIdFor: (call: RecordedCall) => string | null = () => `part-${this.#nextId++}`;

  constructor(options: Partial<ChatbotWriterOptions> = {}) {
    super({ productId: "test", logger: {}, ...options });
  }

  /** Part ids redacted (successful `redactPart` calls), in order. */
  get redactedPartIds(): string[] {
    return this.redactions.filter((r) => r.outcome === "redacted").map((r) => r.partId);
  }

  /** The next `count` `redactPart` calls throw `error` (default: a retryable 503). */
  failRedactionsNext(count = 1, error: unknown = new RetryableDeliveryError("simulated redaction failure", { status: 503 })): this {
    for (let i = 0; i < count; i++) this.#redactScript.push(error);
    return this;
  }

  /** Notes the platform accepted, in delivery order. */
  get notes(): RecordedCall[] {
    return this.calls.filter((c) => c.outcome === "delivered");
  }

  /** Delivered notes of one conversation. */
  notesIn(conversationId: string): RecordedCall[] {
    return this.notes.filter((c) => c.conversationId === conversationId);
  }

  /** The most posts ever in flight at once for one session (the writer promises 1). */
  get maxConcurrentPerSession(): number {
    return this.#maxConcurrentPerSession;
  }

  /** Queues behaviours for the next calls; calls beyond the script succeed. */
  script(...behaviours: PostBehaviour[]): this {
    this.#script.push(...behaviours);
    return this;
  }

  /** The next `count` calls throw a retryable error (or `error`). */
  failNext(count = 1, error: unknown = new RetryableDeliveryError("simulated platform failure", { status: 503 })): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "fail", error });
    return this;
  }

  /** The next `count` calls answer like a 429 with a retry-after hint. */
  rateLimitNext(retryAfterMs: number, count = 1): this {
    const error = new RetryableDeliveryError("simulated 429", { status: 429, retryAfterMs });
    return this.failNext(count, error);
  }

  /** The next `count` calls fail with a {@link RetryableDeliveryError} shaped by `failure`. */
  retryableNext(count = 1, failure: RetryableFailure = {}): this {
    const { message = `simulated failure${failure.status === undefined ? "" : ` ${failure.status}`}`, ...options } = failure;
    return this.failNext(count, new RetryableDeliveryError(message, options));
  }

  /**
   * The next `count` calls fail permanently with a plain {@link PermanentDeliveryError} (404):
   * dead-lettered as `permanent_error`. For a deleted conversation as the platform writers
   * report it, use {@link conversationGoneNext}.
   */
  goneNext(count = 1): this {
    return this.failNext(count, new PermanentDeliveryError("simulated 404: conversation not found", { status: 404 }));
  }

  /** The next `count` calls fail with a {@link ConversationGoneError} (a deleted or closed conversation). */
  conversationGoneNext(count = 1, status = 404): this {
    return this.failNext(count, new ConversationGoneError(`simulated ${status}: conversation gone`, { status }));
  }

  /** The next `count` calls settle only when the writer gives up on them for good (after `close()`). */
  hangNext(count = 1): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "hang" });
    return this;
  }

  /** The next `count` calls never settle, even when their signal aborts. */
  neverSettleNext(count = 1): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "never" });
    return this;
  }

  /** The next `count` calls take `ms`, then succeed, or throw `error` when given. */
  delayNext(ms: number, count = 1, error?: unknown): this {
    for (let i = 0; i < count; i++) this.#script.push(error === undefined ? { kind: "delay", ms } : { kind: "delay", ms, error });
    return this;
  }

  /** The next call waits until the test releases or fails it through the returned gate. */
  gateNext(): PostGate {
    let decide!: (behaviour: PostBehaviour) => void;
    const until = new Promise<PostBehaviour>((resolve) => (decide = resolve));
    let onStart!: (call: RecordedCall) => void;
    const started = new Promise<RecordedCall>((resolve) => (onStart = resolve));
    this.#script.push({ kind: "wait", until, onStart });
    return {
      started,
      release: (partId) => decide(partId === undefined ? { kind: "ok" } : { kind: "ok", partId }),
      fail: (error) => decide({ kind: "fail", error }),
    };
  }

  /** Calls started and not settled yet, over all sessions. */
  get pendingCalls(): number {
    return this.calls.filter((c) => c.settledAt === undefined).length;
  }

  /** Calls beyond the script pending now. */
  get scriptLength(): number {
    return this.#script.length;
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const call: RecordedCall = {
      conversationId,
      sessionId: context.sessionId,
      body,
      attempt: context.attempt,
      idempotencyKey: context.idempotencyKey,
      at: this.options.now(),
      outcome: "pending",
      partId: null,
    };
    this.calls.push(call);
    const behaviour = this.behaviourFor?.(call) ?? this.#script.shift() ?? { kind: "ok" };
    const inFlight = (this.#inFlightBySession.get(call.sessionId) ?? 0) + 1;
    this.#inFlightBySession.set(call.sessionId, inFlight);
    this.#maxConcurrentPerSession = Math.max(this.#maxConcurrentPerSession, inFlight);
    try {
      return await this.#perform(call, behaviour, context.signal);
    } finally {
      call.settledAt = this.options.now();
      call.settledTick = ++this.#tick;
      this.#inFlightBySession.set(call.sessionId, (this.#inFlightBySession.get(call.sessionId) ?? 1) - 1);
    }
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    const record: RecordedRedaction = { conversationId, partId, at: this.options.now(), tick: ++this.#tick, outcome: "redacted" };
    this.redactions.push(record);
    if (this.#redactScript.length > 0) {
      record.outcome = "failed";
      throw this.#redactScript.shift();
    }
  }

  async #perform(call: RecordedCall, behaviour: PostBehaviour, signal: AbortSignal): Promise<string | null> {
    switch (behaviour.kind) {
      case "fail":
        call.outcome = "failed";
        // Scripts may throw anything, as a careless JavaScript subclass could.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw behaviour.error ?? new RetryableDeliveryError("simulated platform failure");
      case "hang":
        call.outcome = "hung";
        // Settles only when the writer gives up on it, like a request whose socket stays open.
        return await new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))));
      case "never":
        call.outcome = "hung";
        return await new Promise<never>(() => undefined);
      case "wait":
        behaviour.onStart?.(call);
        return await this.#perform(call, await behaviour.until, signal);
      case "delay":
        await new Promise((resolve) => setTimeout(resolve, behaviour.ms));
        if (behaviour.error !== undefined) {
          call.outcome = "failed";
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw behaviour.error;
        }
        break;
      case "ok":
        if (behaviour.partId !== undefined) {
          call.outcome = "delivered";
          call.partId = behaviour.partId;
          return behaviour.partId;
        }
    }
    call.outcome = "delivered";
    call.partId = this.partIdFor(call);
    return call.partId;
  }
}

/** A recording writer with test-friendly defaults (silent logger, product id "test"). */
export function createTestWriter(options: Partial<ChatbotWriterOptions> = {}): RecordingChatbotWriter {
  return new RecordingChatbotWriter(options);
}
