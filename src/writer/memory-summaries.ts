import { ActionBuffer } from "./action-buffer.js";
import type { SummaryRequest } from "./delivery-engine.js";
import type { DeadLetter } from "./events.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import { newNote } from "./memory-notes.js";
import { NoteRecords, SUMMARY_SEQ, type NoteRecord, type SequenceRange } from "./note-records.js";
import { owedActions, type OwedNote, type SessionDelivery } from "./session-delivery.js";

/**
 * Queues a summary note behind what the session owes now (the caller pumps). Its body is fixed: a
 * retry absorbs nothing. `snapshot` is what a confirmed delivery makes redactable (none for a
 * re-driven dead letter).
 */
export function queueSummary(s: SessionDelivery, body: string, snapshot: readonly NoteRecord[]): OwedNote {
  const note = newNote("summary", new ActionBuffer());
  note.frozen = true;
  note.body = body;
  note.summary = { after: s.settledActions + owedActions(s), snapshot };
  (s.summaries ??= []).push(note);
  return note;
}

/** The summary is confirmed: now, and only now, its snapshot is redacted (in its conversation). */
export function onSummaryDelivered(
  engine: MemoryEngineState, s: SessionDelivery, note: OwedNote, conversationId: string, partId: string | null, attempt: number,
): void {
  s.settledSummaries++;
  // The summary's own id is recorded like any note's, but no summary can cover it.
  if (partId !== null) (s.records ??= new NoteRecords()).add(partId, conversationId, SUMMARY_SEQ, SUMMARY_SEQ);
  const snapshot = note.summary?.snapshot ?? [];
  // Re-linked meanwhile: notes of the old conversation stay (this summary is not there).
  const here = snapshot.filter((r) => r.conversationId === conversationId);
  if (here.length < snapshot.length) s.records?.restore(snapshot.filter((r) => r.conversationId !== conversationId));
  engine.host.stats.summariesPosted++;
  engine.host.events.emit("summary-delivered", { sessionId: s.sessionId, conversationId, partId, redactions: here.length, attempt });
  engine.redactions.enqueue(s, here);
}

/** A summary that was never confirmed redacts nothing: its snapshot can be covered by a later one. */
export function onSummaryFailed(engine: MemoryEngineState, s: SessionDelivery, snapshot: readonly NoteRecord[], letter: DeadLetter): void {
  s.settledSummaries++;
  if (snapshot.length > 0) (s.records ??= new NoteRecords()).restore(snapshot);
  engine.host.stats.summariesFailed++;
  engine.host.events.emit("summary-failed", {
    sessionId: s.sessionId, conversationId: letter.conversationId, reason: letter.reason, error: letter.error, snapshot: snapshot.length,
  });
}

/** A summary's coverage as sequence ranges; `latestActions` counts back from the session's last accepted action. */
export function coverageRanges(coverage: SummaryRequest["coverage"], lastSequence: number): readonly SequenceRange[] {
  if ("sequences" in coverage) return coverage.sequences;
  const n = Math.floor(coverage.latestActions);
  if (!(n > 0) || lastSequence < 1) return [];
  return [{ from: Math.max(1, lastSequence - n + 1), to: lastSequence }];
}
