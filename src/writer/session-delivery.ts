import type { ActionBuffer } from "./action-buffer.js";
import { emptyTimerSlots, type TimerSlots } from "./timers.js";

/** Everything the writer tracks for one session. Mutated only by the writer. */
export interface SessionDelivery {
  readonly sessionId: string;
  /** The conversation notes go to; null while the session is not linked. */
  conversationId: string | null;
  /** Actions waiting for a link (sliding window). */
  prelink: ActionBuffer | null;
  /** The at-link flush note's actions, delivered before any post-link note. */
  flush: ActionBuffer | null;
  /** Post-link actions waiting for the debounce to end. */
  pending: ActionBuffer | null;
  /** A post-link note is owed now (its debounce or max-wait ended). */
  due: boolean;
  /** The post in flight, if any: at most one per session, which keeps notes in order. */
  posting: Promise<void> | null;
  /** Actions in the post in flight. */
  inFlightActions: number;
  /** Actions delivered or dead-lettered so far (lets `flush()` wait for exactly what was owed). */
  settledActions: number;
  /** Failed posts of the note at the head of the queue. */
  failedAttempts: number;
  /** Ids of delivered notes, oldest first. */
  partIds: string[] | null;
  /** Last arrival, link or delivery, epoch ms (for idle expiry). */
  lastActivityAt: number;
  readonly timers: TimerSlots;
}

export function newSessionDelivery(sessionId: string, now: number): SessionDelivery {
  return {
    sessionId,
    conversationId: null,
    prelink: null,
    flush: null,
    pending: null,
    due: false,
    posting: null,
    inFlightActions: 0,
    settledActions: 0,
    failedAttempts: 0,
    partIds: null,
    lastActivityAt: now,
    timers: emptyTimerSlots(),
  };
}

/** True while the session holds work or a timer: it must not be expired. */
export function isBusy(s: SessionDelivery): boolean {
  return (
    s.posting !== null ||
    (s.flush !== null && s.flush.length > 0) ||
    (s.pending !== null && s.pending.length > 0) ||
    s.timers.debounce !== undefined ||
    s.timers.maxWait !== undefined ||
    s.timers.retry !== undefined
  );
}
