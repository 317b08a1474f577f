/** Options of {@link BaseChatbotWriter}, their defaults, and their validation. */

import type { DeliveryEngineFactory } from "./delivery-engine.js";
import { checkFunction, checkNumber, stderrLogger } from "../option-checks.js";

/** Where the writer reports what operators should see. Every method is optional. */
export interface WriterLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** How failed posts are retried. */
export interface RetryOptions {
  /** Posts of one note before its actions are dead-lettered. @default 8 */
  maxAttempts?: number;
  /** Backoff before the 2nd attempt, in ms; doubles per attempt. @default 500 */
  baseDelayMs?: number;
  /** Cap on one backoff (and on a platform's retry-after hint), in ms. @default 30_000 */
  maxDelayMs?: number;
  /** Fraction of each backoff that is randomised, 0..1. @default 0.2 */
  jitter?: number;
  /** Longest wait honoured from a platform's `Retry-After` / rate-limit reset hint, in ms. @default 300_000 */
  maxRetryAfterMs?: number;
}

/** Options of a chatbot writer. Times are milliseconds. */
export interface ChatbotWriterOptions {
  /** Product identifier, carried in logs and events. Required. */
  productId: string;
  /** How long actions are kept before the session is linked, in ms (by `timestamp_start`). @default 120_000 */
  preLinkWindowMs?: number;
  /** Trailing quiet period after the last post-link batch before a note goes out, in ms. @default 150 */
  postLinkDebounceMs?: number;
  /** Bin width of the at-link flush note, in seconds; 0 disables binning. @default 3 */
  binSeconds?: number;
  /** Longest a continuous stream can postpone a post-link note, in ms. @default 2_000 */
  maxWaitMs?: number;
  /**
   * A platform call still unsettled after this long is logged as slow (the Redis engine renews its
   * lease); it is still awaited, never abandoned, so a session never has two calls that may land,
   * in ms. The built-in writers end a hung request with their own `requestTimeoutMs`. @default 10_000
   */
  postTimeoutMs?: number;
  /** Retry policy for failed posts. */
  retry?: RetryOptions;
  /** Most actions in one note; a larger batch is split into several notes, in order. @default 500 */
  maxNoteActions?: number;
  /** Soft cap on the characters of one note's action lines; a larger batch is split. @default 60_000 */
  maxNoteChars?: number;
  /** A session with nothing pending and no activity for this long is forgotten, in ms. @default 1_800_000 */
  sessionIdleTtlMs?: number;
  /** How often idle sessions are swept, in ms. @default 30_000 */
  sweepIntervalMs?: number;
  /** Dead-letter entries kept for {@link BaseChatbotWriter.deadLetters}; the oldest go first (counted). @default 10_000 */
  maxDeadLetters?: number;
  /** Bound on the dead letters' total size (their JSON), in bytes; the oldest go first (counted). @default 16_777_216 */
  maxDeadLetterBytes?: number;
  /** How long an accepted action is remembered so a replay of it counts once, in ms. @default 900_000 */
  dedupeWindowMs?: number;
  /** Most remembered action ids per session (the oldest are forgotten first). @default 5_000 */
  maxDedupeIds?: number;
  /**
   * Longest a note may be held back by throttled holds (per-conversation spacing, a platform's
   * retry hint) from its first try, in ms; past it, every further hold spends retry budget, so
   * the note is eventually delivered or dead-lettered. @default 3_600_000
   */
  maxHoldMs?: number;
  /** Bound on `close()`'s drain, in ms. @default 10_000 */
  closeTimeoutMs?: number;
  /** Wall clock in epoch ms: the only clock the writer reads (timers stay real). @default Date.now */
  now?: () => number;
  /** Random source in [0, 1) for backoff jitter. @default Math.random */
  random?: () => number;
  /** Receives warnings (dead letters, dropped work). @default writes JSON lines to stderr */
  logger?: WriterLogger;
  /** Where buffers live and who posts when: e.g. `redisDelivery({ … })`. @default this process's memory */
  delivery?: DeliveryEngineFactory;
}

/** Options with every default filled in. */
export interface ResolvedWriterOptions {
  readonly productId: string;
  readonly preLinkWindowMs: number;
  readonly postLinkDebounceMs: number;
  readonly binSeconds: number;
  readonly maxWaitMs: number;
  readonly postTimeoutMs: number;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly maxNoteActions: number;
  readonly maxNoteChars: number;
  readonly sessionIdleTtlMs: number;
  readonly sweepIntervalMs: number;
  readonly maxDeadLetters: number;
  readonly maxDeadLetterBytes: number;
  readonly dedupeWindowMs: number;
  readonly maxDedupeIds: number;
  readonly maxHoldMs: number;
  readonly closeTimeoutMs: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: WriterLogger;
}

/** Fills defaults and rejects bad values with a TypeError that names the option. */
export function resolveWriterOptions(options: ChatbotWriterOptions): ResolvedWriterOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Expected writer options to be an object, got ${options === null ? "null" : typeof options}`);
  }
  const o = {
    preLinkWindowMs: 120_000,
    postLinkDebounceMs: 150,
    binSeconds: 3,
    maxWaitMs: 2_000,
    postTimeoutMs: 10_000,
    maxNoteActions: 500,
    maxNoteChars: 60_000,
    sessionIdleTtlMs: 1_800_000,
    sweepIntervalMs: 30_000,
    maxDeadLetters: 10_000,
    maxDeadLetterBytes: 16_777_216,
    dedupeWindowMs: 900_000,
    maxDedupeIds: 5_000,
    maxHoldMs: 3_600_000,
    closeTimeoutMs: 10_000,
    now: Date.now,
    random: Math.random,
    logger: stderrLogger,
    ...stripUndefined(options),
  };
  if (typeof o.productId !== "string" || o.productId === "") {
    throw new TypeError(`Expected \`productId\` to be a non-empty string, got ${JSON.stringify(o.productId)}`);
  }
  const retry = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 30_000, jitter: 0.2, maxRetryAfterMs: 300_000, ...stripUndefined(o.retry ?? {}) };
  return {
    productId: o.productId,
    preLinkWindowMs: checkNumber("preLinkWindowMs", o.preLinkWindowMs, 0),
    postLinkDebounceMs: checkNumber("postLinkDebounceMs", o.postLinkDebounceMs, 0),
    binSeconds: checkNumber("binSeconds", o.binSeconds, 0),
    maxWaitMs: checkNumber("maxWaitMs", o.maxWaitMs, 0),
    postTimeoutMs: checkNumber("postTimeoutMs", o.postTimeoutMs, 1),
    retry: {
      maxAttempts: checkNumber("retry.maxAttempts", retry.maxAttempts, 1, true),
      baseDelayMs: checkNumber("retry.baseDelayMs", retry.baseDelayMs, 0),
      maxDelayMs: checkNumber("retry.maxDelayMs", retry.maxDelayMs, 0),
      jitter: checkNumber("retry.jitter", retry.jitter, 0, false, 1),
      maxRetryAfterMs: checkNumber("retry.maxRetryAfterMs", retry.maxRetryAfterMs, 0),
    },
    maxNoteActions: checkNumber("maxNoteActions", o.maxNoteActions, 1, true),
    maxNoteChars: checkNumber("maxNoteChars", o.maxNoteChars, 1),
    sessionIdleTtlMs: checkNumber("sessionIdleTtlMs", o.sessionIdleTtlMs, 0),
    sweepIntervalMs: checkNumber("sweepIntervalMs", o.sweepIntervalMs, 1),
    maxDeadLetters: checkNumber("maxDeadLetters", o.maxDeadLetters, 0, true),
    maxDeadLetterBytes: checkNumber("maxDeadLetterBytes", o.maxDeadLetterBytes, 0, true, Number.MAX_SAFE_INTEGER),
    dedupeWindowMs: checkNumber("dedupeWindowMs", o.dedupeWindowMs, 0),
    maxDedupeIds: checkNumber("maxDedupeIds", o.maxDedupeIds, 0, true, 10_000_000),
    maxHoldMs: checkNumber("maxHoldMs", o.maxHoldMs, 0),
    closeTimeoutMs: checkNumber("closeTimeoutMs", o.closeTimeoutMs, 0),
    now: checkFunction("now", o.now),
    random: checkFunction("random", o.random),
    logger: o.logger,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
