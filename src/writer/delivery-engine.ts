import type { NoteAction } from "../payloads/types.js";
import type { CloseSummary, DeadLetter, WriterEventEmitter } from "./events.js";
import type { ResolvedWriterOptions } from "./options.js";
import type { RetryDecision } from "./retry-policy.js";
import type { WriterStats } from "./stats.js";

/**
 * What a delivery engine gets from its writer: the platform call (with its timeout), the retry
 * policy, the dead letter, events, counters and the logger. Engines decide *when* to post and
 * keep the buffers; the writer owns everything that does not depend on where buffers live.
 */
export interface DeliveryHost {
  readonly options: ResolvedWriterOptions;
  readonly stats: WriterStats;
  readonly events: WriterEventEmitter;
  /**
   * Calls the platform, bounded by `postTimeoutMs`; resolves to the note's id or null. A call
   * that times out is still waited for, up to `postTimeoutMs` more, so that one session never
   * has two calls running and a late success counts as delivered; only then does it reject.
   */
  post(conversationId: string, body: string, sessionId: string, attempt: number): Promise<string | null>;
  /** What to do after `failedAttempts` failed posts of one note ended with `error`. */
  decide(error: unknown, failedAttempts: number): RetryDecision;
  /** Records, logs, counts and emits a dead letter. */
  deadLetter(letter: DeadLetter): void;
  log(level: "warn" | "error", message: string, fields: Record<string, unknown>): void;
}

/**
 * Where buffers, debounce deadlines and part ids live, and who decides when a note is posted:
 * in this process ({@link MemoryDelivery}) or in Redis, shared by many processes.
 */
export interface DeliveryEngine {
  writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<void>;
  onSessionLinked(sessionId: string, conversationId: string): Promise<void>;
  /** Posts what is owed now; resolves when those posts settled. */
  flush(): Promise<void>;
  /** Resolves when this process has no timer pending and no post in flight. */
  onIdle(): Promise<void>;
  /** Stops intake, drains (bounded by `closeTimeoutMs`), releases resources. Called once. */
  close(): Promise<CloseSummary>;
  getPartIds(sessionId: string): Promise<string[]>;
  takePartIds(sessionId: string): Promise<string[]>;
  /** The conversation this session's notes go to, if known. */
  linkedConversation(sessionId: string): Promise<string | null>;
  /** Forgets sessions idle past their expiry; returns how many. */
  pruneIdleSessions(): number;
  /** Sessions tracked by this process now. */
  readonly sessionCount: number;
  /** Posts in flight in this process now. */
  readonly inFlight: number;
}

/** Builds the engine a writer delivers through. */
export type DeliveryEngineFactory = (host: DeliveryHost) => DeliveryEngine;
