import { randomUUID } from "node:crypto";
import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { deadLetter } from "./memory-dead-letters.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import { unlink } from "./memory-intake.js";
import { copyBatch, formatNote, newNote, takeNote } from "./memory-notes.js";
import { onSummaryDelivered } from "./memory-summaries.js";
import { NoteRecords } from "./note-records.js";
import { mayHaveLanded } from "./outcome.js";
import type { OwedNote, SessionDelivery } from "./session-delivery.js";

/**
 * The memory engine's per-session posting queue: one post per session at a time, in order (the
 * at-link flush, then a summary once what it waits for has settled, then debounced notes). A
 * failed post is retried at the head of the queue or dead-lettered; at close's bound, everything
 * still owed is.
 */

/** Post-link actions join the pending note; the debounce restarts, the max-wait keeps running. */
export function addPending(engine: MemoryEngineState, s: SessionDelivery, actions: readonly NoteAction[], firstSeq: number, now: number): void {
  const { timers, host } = engine;
  (s.pending ??= new ActionBuffer()).append(actions, now / 1000, firstSeq);
  if (timers.refresh(s.timers, "debounce")) return;
  const onDue = () => makeDue(engine, s);
  timers.start(s.timers, "debounce", host.options.postLinkDebounceMs, onDue);
  timers.ensure(s.timers, "maxWait", host.options.maxWaitMs, onDue);
}

/** The session's debounce (or max-wait) ended, or a flush/close asks for its note now. */
export function makeDue(engine: MemoryEngineState, s: SessionDelivery): void {
  engine.timers.clear(s.timers, "debounce");
  engine.timers.clear(s.timers, "maxWait");
  if (s.pending !== null && s.pending.length > 0) s.due = true;
  pump(engine, s);
}

/** Starts the session's next post when nothing blocks it. One post per session at a time. */
export function pump(engine: MemoryEngineState, s: SessionDelivery): void {
  if (s.posting !== null || s.timers.retry !== undefined || s.conversationId === null) return;
  if (engine.abandoning) {
    abandon(engine, s);
    return;
  }
  const note = nextNote(engine, s);
  if (note === null) return;
  s.note = note;
  engine.inFlight++;
  s.posting = deliver(engine, s, note, s.conversationId);
}

/** The note to post next: the one waiting for its retry, else the next in queue order; null when none is owed now. */
function nextNote(engine: MemoryEngineState, s: SessionDelivery): OwedNote | null {
  let note = s.note;
  if (note !== null) {
    if (!note.frozen) absorb(engine, s, note);
  } else if (s.flush !== null && s.flush.length > 0) {
    note = newNote("flush", takeNote(engine, s.flush));
    if (s.flush.length === 0) s.flush = null;
  } else if (s.summaries !== null && s.settledActions >= (s.summaries[0]?.summary?.after ?? 0)) {
    // What the session owed when the summary was queued has settled: the summary goes next.
    note = s.summaries.shift() as OwedNote;
    if (s.summaries.length === 0) s.summaries = null;
  } else if (s.pending !== null && s.pending.length > 0 && (s.due || engine.closing)) {
    note = newNote("debounced", takeNote(engine, s.pending));
    s.due = s.pending.length > 0;
  }
  return note;
}

/**
 * A note the platform refused (it answered) may carry newer actions on its retry, up to the
 * note limits; it is then a different note, with a new key.
 */
function absorb(engine: MemoryEngineState, s: SessionDelivery, note: OwedNote): void {
  const source = note.kind === "flush" ? s.flush : s.pending;
  const { maxNoteActions, maxNoteChars } = engine.host.options;
  const room = maxNoteActions - note.batch.length;
  const chars = note.batch.descriptions.reduce((sum, d) => sum + d.length + 8, 0);
  if (source === null || source.length === 0 || room <= 0 || chars >= maxNoteChars) return;
  const merged = new ActionBuffer();
  merged.appendBuffer(note.batch);
  merged.appendBuffer(source.takeNote(room, maxNoteChars - chars));
  note.batch = merged.takeNote(Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY); // sorted by time
  note.key = randomUUID();
  note.body = null;
  if (note.kind === "flush" && source.length === 0) s.flush = null;
  if (note.kind === "debounced" && source.length === 0) {
    s.due = false;
    engine.timers.clear(s.timers, "debounce");
    engine.timers.clear(s.timers, "maxWait");
  }
}

async function deliver(engine: MemoryEngineState, s: SessionDelivery, note: OwedNote, conversationId: string): Promise<void> {
  const { host } = engine;
  const attempt = note.failedAttempts + 1;
  const started = host.options.now();
  if (note.firstTriedAt === 0) note.firstTriedAt = started;
  const body = note.frozen && note.body !== null ? note.body : formatNote(engine, s, note.kind, note.batch);
  note.body = body;
  try {
    const partId = await host.post({ conversationId, body, sessionId: s.sessionId, attempt, idempotencyKey: note.key });
    if (note.abandoned) {
      host.log("warn", "a call given up at close landed after all; its dead letter is a duplicate", { sessionId: s.sessionId, conversationId });
      return;
    }
    s.note = null;
    if (note.summary !== undefined) onSummaryDelivered(engine, s, note, conversationId, partId, attempt);
    else onNoteDelivered(engine, s, note, conversationId, partId, attempt, started);
  } catch (error) {
    if (!note.abandoned) onPostFailed(engine, s, note, conversationId, error);
  } finally {
    s.posting = null;
    s.lastActivityAt = host.options.now();
    engine.inFlight--;
    if (!note.abandoned) pump(engine, s);
    engine.checkIdle();
  }
}

/** An action note is confirmed: its actions are settled, and its part id recorded with their sequence range. */
function onNoteDelivered(
  engine: MemoryEngineState, s: SessionDelivery, note: OwedNote, conversationId: string, partId: string | null, attempt: number, started: number,
): void {
  const { host } = engine;
  s.settledActions += note.batch.length;
  if (partId !== null) {
    const [lo, hi] = note.batch.seqRange();
    (s.records ??= new NoteRecords()).add(partId, conversationId, lo, hi);
  }
  host.stats.notesPosted++;
  host.stats.actionsDelivered += note.batch.length;
  if (host.events.has("delivered")) {
    const durationMs = host.options.now() - started;
    host.events.emit("delivered", { sessionId: s.sessionId, conversationId, partId, kind: note.kind, actionCount: note.batch.length, attempt, durationMs });
  }
}

function onPostFailed(engine: MemoryEngineState, s: SessionDelivery, note: OwedNote, conversationId: string, error: unknown): void {
  const { host } = engine;
  const decision = engine.abandoning
    ? ({ kind: "give-up", reason: "shutdown" } as const)
    : host.decide(error, note.failedAttempts + 1, note.firstTriedAt);
  // A hold the writer put on itself (throttling) is not a failure and spends no retry budget.
  if (decision.kind === "give-up" || decision.counted) {
    note.failedAttempts++;
    host.stats.postFailures++;
  } else {
    host.stats.throttled++;
  }
  if (decision.kind === "give-up") {
    s.note = null;
    deadLetter(engine, s, note, conversationId, decision.reason, error);
    if (decision.reason === "conversation_gone") unlink(engine, s, conversationId, error);
    return;
  }
  // The note stays at the head of the session's queue: order holds. A call that may have
  // landed freezes it, so its retry is the same note under the same key.
  if (mayHaveLanded(error)) note.frozen = true;
  if (decision.counted) host.stats.retries++;
  engine.timers.start(s.timers, "retry", decision.delayMs, () => pump(engine, s));
  host.events.emit("retrying", {
    sessionId: s.sessionId, conversationId, kind: note.kind, attempt: note.failedAttempts, delayMs: decision.delayMs, error,
  });
}

const NOT_DELIVERED = "close() timed out before delivery";

/** After the close bound: everything the session owes goes to the dead letter. Returns unconfirmed notes. */
export function abandon(engine: MemoryEngineState, s: SessionDelivery): number {
  let unconfirmed = 0;
  const conversationId = s.conversationId ?? s.goneConversation ?? "";
  if (s.note !== null) {
    const note = s.note;
    s.note = null;
    if (s.posting !== null) {
      note.abandoned = true;
      unconfirmed++;
      deadLetter(engine, s, note, conversationId, "shutdown", "close() gave up waiting for the platform call at closeTimeoutMs; it may have been delivered");
    } else {
      deadLetter(engine, s, note, conversationId, "shutdown", NOT_DELIVERED);
    }
  }
  for (const summary of s.summaries?.splice(0) ?? []) deadLetter(engine, s, summary, conversationId, "shutdown", NOT_DELIVERED);
  s.summaries = null;
  for (const kind of ["flush", "debounced"] as const) {
    const source = kind === "flush" ? s.flush : s.pending;
    if (source === null || source.length === 0) continue;
    deadLetter(engine, s, newNote(kind, copyBatch(source)), conversationId, "shutdown", NOT_DELIVERED);
  }
  s.flush = null;
  s.pending = null;
  s.due = false;
  return unconfirmed;
}
