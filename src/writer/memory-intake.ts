import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { writeDedupeHashes } from "./action-identity.js";
import { deadLetter } from "./memory-dead-letters.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import { SeenIds } from "./seen-ids.js";
import type { SessionDelivery } from "./session-delivery.js";

/** A batch after dedupe: the actions this session had not accepted before, and how many it had. */
export interface Admitted {
  readonly fresh: readonly NoteAction[];
  readonly duplicates: number;
}

/** Dedupe ids of one batch, reused by every call so a batch allocates nothing for them. */
const hashes = new Float64Array(1024);

/** Drops actions this session accepted before (a replay); counts and reports them. */
export function admit(engine: MemoryEngineState, s: SessionDelivery, actions: readonly NoteAction[], now: number): Admitted {
  const { dedupeWindowMs, maxDedupeIds } = engine.host.options;
  if (dedupeWindowMs === 0 || maxDedupeIds === 0) return { fresh: actions, duplicates: 0 };
  // A rare larger batch gets its own buffer, so one huge batch does not keep a huge buffer alive.
  const ids = actions.length <= hashes.length ? hashes : new Float64Array(actions.length);
  writeDedupeHashes(actions, ids);
  const isNew = (s.seen ??= new SeenIds()).admit(ids, actions.length, now, dedupeWindowMs, maxDedupeIds);
  if (isNew === null) return { fresh: actions, duplicates: 0 };
  const fresh: NoteAction[] = [];
  let duplicates = 0;
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as NoteAction;
    if (action === null || typeof action !== "object") continue;
    if (isNew[i] === true) fresh.push(action);
    else duplicates++;
  }
  if (duplicates > 0) {
    engine.host.stats.actionsDuplicate += duplicates;
    engine.host.events.emit("duplicates", { sessionId: s.sessionId, count: duplicates });
  }
  return { fresh, duplicates };
}

/** Trims the pre-link buffer to the window; counts and reports what fell out. */
export function trimPrelink(engine: MemoryEngineState, s: SessionDelivery, now: number): number {
  if (s.prelink === null) return 0;
  const trimmed = s.prelink.trimOlderThan((now - engine.host.options.preLinkWindowMs) / 1000);
  if (trimmed > 0) {
    engine.host.stats.actionsTrimmed += trimmed;
    engine.host.log("debug", "pre-link actions older than the window were dropped", { sessionId: s.sessionId, actions: trimmed });
  }
  return trimmed;
}

/** The first link: the pre-link window becomes the flush note (the caller pumps the session). */
export function link(engine: MemoryEngineState, s: SessionDelivery, conversationId: string, now: number): void {
  s.conversationId = conversationId;
  s.goneConversation = null;
  // The flush note carries the window before the link, even if the last arrival was long ago.
  trimPrelink(engine, s, now);
  const buffered = s.prelink?.length ?? 0;
  if (buffered > 0) s.flush = s.prelink;
  s.prelink = null;
  if (engine.host.events.has("linked")) engine.host.events.emit("linked", { sessionId: s.sessionId, conversationId, bufferedActions: buffered });
}

/** The conversation is gone: the session goes back to pre-link buffering with what it still owes. */
export function unlink(engine: MemoryEngineState, s: SessionDelivery, conversationId: string, error: unknown): void {
  if (s.conversationId !== conversationId) return; // re-linked meanwhile: nothing to undo
  s.conversationId = null;
  s.goneConversation = conversationId;
  engine.timers.clear(s.timers, "debounce");
  engine.timers.clear(s.timers, "maxWait");
  const prelink = new ActionBuffer();
  if (s.flush !== null) prelink.appendBuffer(s.flush);
  if (s.pending !== null) prelink.appendBuffer(s.pending);
  s.flush = null;
  s.pending = null;
  s.due = false;
  s.prelink = prelink;
  trimPrelink(engine, s, engine.host.options.now());
  for (const summary of s.summaries?.splice(0) ?? []) deadLetter(engine, s, summary, conversationId, "conversation_gone", error);
  s.summaries = null;
  engine.host.stats.unlinked++;
  const message = error instanceof Error ? error.message : String(error);
  engine.host.log("warn", "conversation gone; session unlinked, its actions wait for a new link", {
    sessionId: s.sessionId, conversationId, bufferedActions: prelink.length, error: message,
  });
  engine.host.events.emit("unlinked", {
    sessionId: s.sessionId, conversationId, reason: "conversation_gone", error: message, bufferedActions: prelink.length,
  });
}
