import { randomUUID } from "node:crypto";
import type { RedriveOutcome } from "./delivery-engine.js";
import type { DeadLetter, DeadLetterReason } from "./events.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import { formatNote } from "./memory-notes.js";
import { onSummaryFailed } from "./memory-summaries.js";
import type { OwedNote, SessionDelivery } from "./session-delivery.js";

/** Gives the note up: its dead letter is stored and reported, and its actions count as settled. */
export function deadLetter(
  engine: MemoryEngineState, s: SessionDelivery, note: OwedNote, conversationId: string, reason: DeadLetterReason, error: unknown,
): void {
  const letter: DeadLetter = {
    id: randomUUID(),
    sessionId: s.sessionId,
    conversationId,
    reason,
    error: error instanceof Error ? error.message : String(error),
    attempts: note.failedAttempts,
    kind: note.kind,
    actions: note.batch.toActions(),
    body: note.body ?? formatNote(engine, s, note.kind, note.batch),
    at: engine.host.options.now(),
  };
  engine.host.stats.deadLettersEvicted += engine.dead.add(letter);
  engine.host.reportDeadLetter(letter);
  s.settledActions += note.batch.length;
  if (note.summary !== undefined) onSummaryFailed(engine, s, note.summary.snapshot, letter);
}

/** Which letters a redrive takes now, and the outcome so far (what is missing or must stay). */
export interface RedriveSelection {
  readonly outcome: RedriveOutcome;
  /** Ids of the letters to requeue. */
  readonly chosen: string[];
}

/**
 * Picks the letters to re-drive: those named by `ids` (all when undefined) whose session can take
 * them now (`canTake`: its conversation is known here); the rest are skipped and stay.
 */
export function selectRedrive(letters: readonly DeadLetter[], ids: readonly string[] | undefined, canTake: (sessionId: string) => boolean): RedriveSelection {
  const wanted = ids === undefined ? undefined : new Set(ids);
  const outcome: RedriveOutcome = { requeued: 0, actions: 0, missing: [], skipped: [] };
  const chosen: string[] = [];
  for (const letter of letters) {
    if (wanted !== undefined && !wanted.has(letter.id)) continue;
    wanted?.delete(letter.id);
    if (canTake(letter.sessionId)) chosen.push(letter.id);
    else outcome.skipped.push(letter.id);
  }
  if (wanted !== undefined) outcome.missing.push(...wanted);
  return { outcome, chosen };
}
