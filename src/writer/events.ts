import type { BufferedAction } from "./action-buffer.js";

/** Which pipeline produced a note. */
export type NoteKind = "flush" | "debounced" | "summary";

/** Why actions ended in the dead letter instead of a conversation. */
export type DeadLetterReason = "retries_exhausted" | "permanent_error" | "conversation_gone" | "hold_expired" | "shutdown";

/** Actions that could not be delivered, kept visible for operators (never silently dropped). */
export interface DeadLetter {
  /** Unique id of this dead letter (for `redriveDeadLetters`, logs and the admin routes). */
  readonly id: string;
  readonly sessionId: string;
  readonly conversationId: string;
  readonly reason: DeadLetterReason;
  /** The last error's message. */
  readonly error: string;
  /** Posts attempted for this note. */
  readonly attempts: number;
  readonly kind: NoteKind;
  readonly actions: readonly BufferedAction[];
  /** The note body of the last attempt (or the one that would have been posted). */
  readonly body: string;
  /** When it was dead-lettered, epoch ms. */
  readonly at: number;
}

/** The writer's lifecycle events and their payloads. */
export interface WriterEvents {
  /** A note was confirmed by the platform. */
  delivered: {
    sessionId: string;
    conversationId: string;
    partId: string | null;
    kind: NoteKind;
    actionCount: number;
    attempt: number;
    /** How long the successful platform call took, ms (by the writer's clock). */
    durationMs: number;
  };
  /** A post failed and will be tried again after `delayMs`. */
  retrying: {
    sessionId: string;
    conversationId: string;
    kind: NoteKind;
    attempt: number;
    delayMs: number;
    error: unknown;
  };
  "dead-lettered": DeadLetter;
  /**
   * The session's conversation is gone (a {@link ConversationGoneError}): the session is unlinked,
   * its later actions are buffered as pre-link actions until a new link.
   */
  unlinked: { sessionId: string; conversationId: string; reason: "conversation_gone"; error: string; bufferedActions: number };
  /** Actions of a batch that were already accepted earlier (a replay) and were not buffered again. */
  duplicates: { sessionId: string; count: number };
  /** A session was linked to a conversation; `bufferedActions` go out in the flush note. */
  linked: { sessionId: string; conversationId: string; bufferedActions: number };
  /** A summary note was confirmed; `redactions` notes of its snapshot are redacted next. */
  "summary-delivered": { sessionId: string; conversationId: string; partId: string | null; redactions: number; attempt: number };
  /** A summary note was dead-lettered: nothing of its snapshot is redacted. */
  "summary-failed": { sessionId: string; conversationId: string; reason: DeadLetterReason; error: string; snapshot: number };
  /** A note covered by a confirmed summary was redacted. */
  redacted: { sessionId: string; conversationId: string; partId: string; attempt: number };
  /** A redaction failed and is tried again after `delayMs`. */
  "redaction-retrying": { sessionId: string; conversationId: string; partId: string; attempt: number; delayMs: number; error: string };
  /** A redaction was given up (budget spent, a permanent error, or the close bound): the note stays, beside its summary. */
  "redaction-failed": {
    sessionId: string;
    conversationId: string;
    partId: string;
    attempts: number;
    reason: "retries_exhausted" | "permanent_error" | "conversation_gone" | "hold_expired" | "shutdown";
    error: string;
  };
  /** `close()` finished. */
  closed: CloseSummary;
}

/** What `close()` reports. */
export interface CloseSummary {
  /** Notes still undelivered when the drain timed out, moved to the dead letter (memory engine). */
  deadLettered: number;
  /**
   * Notes whose platform call was still unsettled at the bound: they may have landed. In memory
   * they are dead-lettered too (counted in `deadLettered`); with Redis they stay claimable.
   */
  unconfirmed: number;
  /** Notes left owed in Redis for another process or the next start (Redis engine; 0 in memory). */
  leftInRedis: number;
  /** Actions of sessions never linked to a conversation, which had nowhere to go. */
  unlinkedActions: number;
  /** Sessions those actions belonged to. */
  unlinkedSessions: number;
}

type Listener<T> = (payload: T) => void;

/** A small typed event emitter. A listener that throws never disturbs delivery. */
export class WriterEventEmitter {
  readonly #listeners = new Map<keyof WriterEvents, Set<Listener<never>>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends keyof WriterEvents>(event: E, listener: Listener<WriterEvents[E]>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Whether anybody listens (lets hot paths skip building payloads). */
  has(event: keyof WriterEvents): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends keyof WriterEvents>(event: E, payload: WriterEvents[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as Listener<WriterEvents[E]>)(payload);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
