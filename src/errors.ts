/**
 * The few errors of this library. Each has a stable `code`; callers branch on the class or the
 * code, never on the message. The HTTP layer maps them to status codes in one place.
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | "PAYLOAD_INVALID"
  | "PAYLOAD_TOO_LARGE"
  | "INVALID_TRANSITION"
  | "DELIVERY_FAILED"
  | "DELIVERY_PERMANENT"
  | "CONVERSATION_GONE"
  | "WRITER_CLOSED"
  | "CONCURRENT_UPDATE"
  | "LLM_REQUEST_FAILED";

/** Base class: every error thrown on purpose by this library extends it. */
export class AutoplayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that cannot be turned into a payload; `reason` says what was wrong, for a 400/413. */
export class PayloadError extends AutoplayError {
  readonly reason: string;

  constructor(reason: string, options?: { tooLarge?: boolean; cause?: unknown }) {
    super(options?.tooLarge ? "PAYLOAD_TOO_LARGE" : "PAYLOAD_INVALID", `invalid payload: ${reason}`, options);
    this.reason = reason;
  }
}

/** A SessionState move that the FSM table forbids. */
export class InvalidTransitionError extends AutoplayError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string, detail?: string) {
    super("INVALID_TRANSITION", `invalid transition ${from} -> ${to}${detail ? `: ${detail}` : ""}`);
    this.from = from;
    this.to = to;
  }
}

/**
 * A post that did not succeed and may succeed later (5xx, reset connection, 429).
 * `retryAfterMs` carries the platform's hint (`Retry-After`, `X-RateLimit-Reset`) when it gave one.
 */
export class RetryableDeliveryError extends AutoplayError {
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  /**
   * The writer held the post back itself (e.g. a per-conversation minimum spacing) without asking
   * the platform: it waits `retryAfterMs` and does not count this against the retry budget.
   */
  readonly throttled: boolean;

  constructor(message: string, options?: { retryAfterMs?: number; status?: number; throttled?: boolean; cause?: unknown }) {
    super("DELIVERY_FAILED", message, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.status = options?.status;
    this.throttled = options?.throttled === true;
  }
}

/**
 * A post that will never succeed as it is (the conversation was deleted or closed, 404/410,
 * a 4xx the platform will not change its mind about). Not retried: the actions are dead-lettered.
 */
export class PermanentDeliveryError extends AutoplayError {
  readonly status: number | undefined;

  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super("DELIVERY_PERMANENT", message, options);
    this.status = options?.status;
  }
}

/**
 * The conversation no longer takes notes (deleted: 404/410; a closed Zendesk ticket). Permanent
 * for this conversation only: the writer dead-letters the failed note, unlinks the session, keeps
 * its later actions buffered as pre-link actions until a new link, and emits `unlinked`.
 */
export class ConversationGoneError extends PermanentDeliveryError {
  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options);
    (this as { code: ErrorCode }).code = "CONVERSATION_GONE";
  }
}

/** Work offered to a writer or manager after `close()` began. */
export class WriterClosedError extends AutoplayError {
  constructor() {
    super("WRITER_CLOSED", "the writer is closed and takes no more actions");
  }
}

/**
 * A compare-and-set write lost to another writer (e.g. two instances saving the same session):
 * nothing was written. Reload the current value, re-apply the change and save again; never retry
 * the same stale object, which would fail the same way.
 */
export class ConcurrentUpdateError extends AutoplayError {
  /** What was being written, e.g. `session "s-1"`. */
  readonly resource: string;

  constructor(resource: string, detail?: string) {
    super("CONCURRENT_UPDATE", `concurrent update of ${resource}${detail ? ` (${detail})` : ""}: reload and re-apply the change`);
    this.resource = resource;
  }
}
