import type { ActionBuffer } from "./action-buffer.js";
import type { NoteKind } from "./events.js";
import type { NoteRecord, NoteRecords } from "./note-records.js";
import type { SeenIds } from "./seen-ids.js";
import { emptyTimerSlots, type TimerSlots } from "./timers.js";

/** The note a session is posting, or waiting to retry: at most one per session. */
export interface OwedNote {
  readonly kind: NoteKind;
  batch: ActionBuffer;
  /** The note's idempotency key, the same on every retry of this note. */
  key: string;
  /**
   * A call of this note may have landed (it failed without an answer from the platform): its
   * retries post exactly this body under this key, absorbing nothing new.
   */
  frozen: boolean;
  /** The body of the last attempt (kept so a frozen note is re-sent byte for byte). */
  body: string | null;
  /** Failed posts of this note that spent retry budget. */
  failedAttempts: number;
  /** First try, epoch ms (bounds throttled holds); 0 before the first try. */
  firstTriedAt: number;
  /** `close()` gave up on it (dead-lettered as unconfirmed): its late outcome changes nothing. */
  abandoned: boolean;
  /** A summary note (`kind` "summary"): what it waits for and what it makes redactable. */
  summary?: SummaryWork;
}

/** A summary note's bookkeeping. */
export interface SummaryWork {
  /** Posted once the session's `settledActions` reached this (what it owed when the summary was queued). */
  readonly after: number;
  /** The notes to redact once the summary is confirmed. */
  readonly snapshot: readonly NoteRecord[];
}

/** A note to redact after a confirmed summary. */
export interface PendingRedaction {
  readonly conversationId: string;
  readonly partId: string;
  failedAttempts: number;
  /** First try, epoch ms; 0 before it. */
  firstTriedAt: number;
}

/** Everything the memory engine tracks for one session. Mutated only by the engine. */
export interface SessionDelivery {
  readonly sessionId: string;
  /** The conversation notes go to; null while the session is not linked. */
  conversationId: string | null;
  /** A conversation that answered "gone" for this session: a write naming it does not re-link. */
  goneConversation: string | null;
  /** Actions waiting for a link (sliding window). */
  prelink: ActionBuffer | null;
  /** The rest of the at-link flush (a large flush is split), delivered before any post-link note. */
  flush: ActionBuffer | null;
  /** Post-link actions waiting for the debounce to end. */
  pending: ActionBuffer | null;
  /** A post-link note is owed now (its debounce or max-wait ended). */
  due: boolean;
  /** The note being posted or waiting for its retry. */
  note: OwedNote | null;
  /** The post in flight, if any: at most one per session, which keeps notes in order. */
  posting: Promise<void> | null;
  /** Actions delivered or dead-lettered so far (lets `flush()` wait for exactly what was owed). */
  settledActions: number;
  /** Delivered notes with ids, oldest first, with the sequence ranges they carried. */
  records: NoteRecords | null;
  /** The sequence number of the session's last accepted action. */
  sequence: number;
  /** Summary notes queued behind what the session owed, in order. */
  summaries: OwedNote[] | null;
  /** Summary notes delivered or dead-lettered (lets `flush()` wait for the ones owed). */
  settledSummaries: number;
  /** Notes to redact (after their summaries were confirmed), one call at a time. */
  redactions: PendingRedaction[] | null;
  /** The redaction call in flight, if any. */
  redacting: Promise<void> | null;
  /** Recently accepted action ids (dedupe). */
  seen: SeenIds | null;
  /** Last arrival, link or delivery, epoch ms (for idle expiry). */
  lastActivityAt: number;
  readonly timers: TimerSlots;
}

export function newSessionDelivery(sessionId: string, now: number, firstSequence = 0): SessionDelivery {
  return {
    sessionId,
    conversationId: null,
    goneConversation: null,
    prelink: null,
    flush: null,
    pending: null,
    due: false,
    note: null,
    posting: null,
    settledActions: 0,
    records: null,
    sequence: firstSequence,
    summaries: null,
    settledSummaries: 0,
    redactions: null,
    redacting: null,
    seen: null,
    lastActivityAt: now,
    timers: emptyTimerSlots(),
  };
}

/** Actions the session still owes a conversation (not counting pre-link ones). */
export function owedActions(s: SessionDelivery): number {
  return (s.flush?.length ?? 0) + (s.pending?.length ?? 0) + (s.note?.batch.length ?? 0);
}

/** Summary notes the session still owes (queued, or being posted / waiting for a retry). */
export function owedSummaries(s: SessionDelivery): number {
  return (s.summaries?.length ?? 0) + (s.note?.kind === "summary" ? 1 : 0);
}

/** True while the session holds work or a timer: it must not be expired. */
export function isBusy(s: SessionDelivery): boolean {
  return (
    s.posting !== null ||
    owedActions(s) > 0 ||
    owedSummaries(s) > 0 ||
    s.redacting !== null ||
    (s.redactions?.length ?? 0) > 0 ||
    s.timers.redact !== undefined ||
    s.timers.debounce !== undefined ||
    s.timers.maxWait !== undefined ||
    s.timers.retry !== undefined
  );
}
