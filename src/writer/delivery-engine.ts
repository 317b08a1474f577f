import type { NoteAction } from "../payloads/types.js";
import type { CloseSummary, DeadLetter, WriterEventEmitter } from "./events.js";
import type { ResolvedWriterOptions } from "./options.js";
import type { RetryDecision } from "./retry-policy.js";
import type { WriterStats } from "./stats.js";
import type { SequenceRange } from "./note-records.js";

/** What one `writeActions` call did with its actions. */
export interface WriteOutcome {
  /** Actions buffered now (new to the session). */
  accepted: number;
  /** Actions already accepted earlier (a replayed batch), dropped and counted. */
  duplicates: number;
  /** Pre-link actions that fell out of the window on this arrival (older ones included). */
  trimmed: number;
  /**
   * The actions new to the session (the batch without its duplicates), in batch order, when the
   * engine reports them: what a summarizer should read. The caller's own objects.
   */
  newActions?: readonly NoteAction[];
  /**
   * The sequence number of the last new action: `newActions[i]` is number
   * `lastSequence - newActions.length + 1 + i` in its session. A session's numbers are never
   * reused, even after its bookkeeping expired. Absent when the engine does not number actions.
   */
  lastSequence?: number;
  /**
   * Where the session's actions go now, as the engine knows it: its conversation, or null while
   * they wait pre-link. Absent when the engine does not say.
   */
  conversationId?: string | null;
}

/** What a summary condenses: explicit sequence ranges, or the session's latest accepted actions. */
export type SummaryCoverage =
  | { readonly sequences: readonly SequenceRange[] }
  /** The last `latestActions` actions the session accepted before this summary (a connector summary's `replaces`). */
  | { readonly latestActions: number };

/** A summary note for the engine to post and follow with the redactions it makes safe. */
export interface SummaryRequest {
  readonly sessionId: string;
  /** The whole note body (header and prose). */
  readonly body: string;
  readonly coverage: SummaryCoverage;
}

/** What `summarize` did. */
export interface SummaryOutcome {
  /** `queued`: the note goes out after what the session already owes; `unlinked`: no conversation to post to, nothing done. */
  status: "queued" | "unlinked";
  conversationId: string | null;
  /** Notes that will be redacted once the summary is confirmed (the snapshot). */
  snapshot: number;
  /** The summary note's idempotency key (stable over its retries); "" when not queued. */
  key: string;
}

/** What `redriveDeadLetters` did. */
export interface RedriveOutcome {
  /** Dead letters whose actions were queued again (to the session's current conversation, or its pre-link buffer). */
  requeued: number;
  /** Actions queued again. */
  actions: number;
  /** Ids asked for that were not (or no longer) in the dead-letter list. */
  missing: string[];
  /** Letters left in the list because their session has no conversation to take them now. */
  skipped: string[];
}

/**
 * What a delivery engine gets from its writer: the platform call (with its timeout), the retry
 * policy, dead-letter reporting, events, counters and the logger. Engines decide *when* to post
 * and keep the buffers and the dead letters; the writer owns everything that does not depend on
 * where buffers live.
 */
export interface DeliveryHost {
  readonly options: ResolvedWriterOptions;
  readonly stats: WriterStats;
  readonly events: WriterEventEmitter;
  /**
   * Calls the platform; resolves to the note's id or null. A call that does not settle within
   * `postTimeoutMs` is reported through `onSlow` (Redis renews its lease there) and still awaited:
   * one session never has two calls that may land, and a late success counts as delivered.
   * `idempotencyKey` is the note's stable key, the same on every retry of that note.
   */
  post(call: PostCall): Promise<string | null>;
  /**
   * What to do after `failedAttempts` failed posts of one note ended with `error`; `heldSinceMs`
   * is when the note was first tried (epoch ms), which bounds throttled holds (`maxHoldMs`).
   */
  decide(error: unknown, failedAttempts: number, heldSinceMs: number): RetryDecision;
  /** Calls the platform's `redactPart`; a thrown error means "not redacted". */
  redact(conversationId: string, partId: string, sessionId: string): Promise<void>;
  /** Logs, counts and emits a dead letter the engine has recorded. */
  reportDeadLetter(letter: DeadLetter): void;
  log(level: "debug" | "info" | "warn" | "error", message: string, fields: Record<string, unknown>): void;
}

/** One platform call as an engine asks for it. */
export interface PostCall {
  conversationId: string;
  body: string;
  sessionId: string;
  /** 1 for the first try of this note. */
  attempt: number;
  /** Stable per note: the same on every retry of that note. */
  idempotencyKey: string;
  /** Called once if the call is still unsettled after `postTimeoutMs` (it is still awaited). */
  onSlow?: () => void;
}

/**
 * Where buffers, debounce deadlines, part ids and dead letters live, and who decides when a note
 * is posted: in this process ({@link MemoryDelivery}) or in Redis, shared by many processes. Both
 * follow one policy (docs/delivery-policy.md), held by one conformance suite.
 */
export interface DeliveryEngine {
  writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome>;
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
  /** Dead letters, oldest first (with Redis: the shared list every instance sees). */
  deadLetters(): Promise<DeadLetter[]>;
  /** Returns the dead letters and removes them. */
  takeDeadLetters(): Promise<DeadLetter[]>;
  /**
   * Queues the actions of the given dead letters (all when `ids` is omitted) again, for the
   * session's current conversation, bypassing dedupe, and removes those letters. Letters of a
   * session with no conversation now stay (`skipped`): a pre-link buffer would trim them as too
   * old. A note that fails again is dead-lettered again.
   */
  redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome>;
  /**
   * The summary overwrite step (docs/summaries.md). Takes the snapshot now: the session's
   * delivered notes, in the conversation the summary goes to, whose actions ALL lie in the
   * coverage. Queues the summary note on the session's ordered delivery, after what the session
   * already owes, with its own idempotency key; once the platform confirms it, redacts exactly
   * the snapshot (one call at a time per session, retried with backoff). A summary that is
   * dead-lettered redacts nothing and its snapshot becomes redactable by a later summary.
   * Engines that cannot do it yet leave it out; the writer then refuses summaries.
   */
  summarize?(request: SummaryRequest): Promise<SummaryOutcome>;
  /** Dead letters held now (memory: exact; Redis: the shared list's length as last seen). */
  readonly deadLetterCount: number;
  /** Forgets sessions idle past their expiry; returns how many. */
  pruneIdleSessions(): number;
  /** Sessions tracked by this process now. */
  readonly sessionCount: number;
  /** Posts in flight in this process now. */
  readonly inFlight: number;
}

/** Builds the engine a writer delivers through. */
export type DeliveryEngineFactory = (host: DeliveryHost) => DeliveryEngine;
