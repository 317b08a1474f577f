import { randomUUID } from "node:crypto";
import { formatNoteColumns } from "../note/format.js";
import { ActionBuffer } from "./action-buffer.js";
import type { NoteKind } from "./events.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import type { OwedNote, SessionDelivery } from "./session-delivery.js";

/** A new owed note of `kind` carrying `batch`, under a fresh idempotency key. */
export function newNote(kind: NoteKind, batch: ActionBuffer): OwedNote {
  return { kind, batch, key: randomUUID(), frozen: false, body: null, failedAttempts: 0, firstTriedAt: 0, abandoned: false };
}

/** Takes the next note's worth of actions from `source`, within the note limits. */
export function takeNote(engine: MemoryEngineState, source: ActionBuffer): ActionBuffer {
  return source.takeNote(engine.host.options.maxNoteActions, engine.host.options.maxNoteChars);
}

/** The note's body: a flush note is binned by time, a post-link note is not. */
export function formatNote(engine: MemoryEngineState, s: SessionDelivery, kind: NoteKind, batch: ActionBuffer): string {
  const binSeconds = kind === "flush" ? engine.host.options.binSeconds : 0;
  return formatNoteColumns(s.sessionId, batch.descriptions, batch.starts, binSeconds, engine.host.options.now() / 1000);
}

/** A copy of `source` as one batch (it may exceed the note limits: for dead letters). */
export function copyBatch(source: ActionBuffer): ActionBuffer {
  const batch = new ActionBuffer();
  batch.appendBuffer(source);
  return batch;
}
