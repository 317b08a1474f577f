import type { NoteAction } from "../payloads/types.js";
import type { WriteOutcome } from "../writer/delivery-engine.js";
import { LINK } from "./delivery-scripts.js";
import type { RedisEngineState } from "./redis-engine-state.js";

/**
 * WRITE's reply: {accepted, wakeAt, conversationId, bufferedActions, trimmed, duplicates,
 * linkedNow, lastSequence, positions of duplicates…}.
 */
export type WriteReply = [number, number, string, number, number, number, number, string, ...number[]];

/** ARGV shared by WRITE and LINK. */
export function intakeArgs(engine: RedisEngineState, sessionId: string, now: number, conversationId: string): (string | number)[] {
  const o = engine.host.options;
  return [sessionId, now, conversationId, (now - o.preLinkWindowMs) / 1000, o.postLinkDebounceMs, o.maxWaitMs, engine.ttlMs];
}

/** Counts and reports what WRITE did, wakes this process for the session, and answers the writer. */
export function recordWrite(engine: RedisEngineState, sessionId: string, actions: readonly NoteAction[], reply: WriteReply): WriteOutcome {
  const { host } = engine;
  const trimmed = Number(reply[4]);
  const duplicates = Number(reply[5]);
  host.stats.actionsTrimmed += trimmed;
  if (duplicates > 0) {
    host.stats.actionsDuplicate += duplicates;
    host.events.emit("duplicates", { sessionId, count: duplicates });
  }
  if (Number(reply[6]) === 1) {
    // This write made the first link and moved the pre-link buffer into a flush note.
    host.events.emit("linked", { sessionId, conversationId: reply[2], bufferedActions: Number(reply[3]) });
  }
  engine.wakes.schedule(sessionId, Number(reply[1]));
  const conversationId = reply[2] === "" || reply[2] === undefined ? null : String(reply[2]);
  return { accepted: Number(reply[0]), duplicates, trimmed, newActions: newActions(actions, reply, duplicates), lastSequence: Number(reply[7]), conversationId };
}

/** Links (or re-links) the session (LINK): a first link moves its pre-link buffer into a flush note. */
export async function linkSession(engine: RedisEngineState, sessionId: string, conversationId: string): Promise<void> {
  const { host } = engine;
  const now = host.options.now();
  const reply = (await LINK.run(engine.redis, engine.keys.session(sessionId), intakeArgs(engine, sessionId, now, conversationId))) as number[];
  if (Number(reply[0]) < 0) return;
  host.stats.actionsTrimmed += Number(reply[2]);
  host.events.emit("linked", { sessionId, conversationId, bufferedActions: Number(reply[0]) });
  engine.wakes.schedule(sessionId, Number(reply[1]));
}

/** The batch's actions the engine accepted (WRITE lists the positions of duplicates among the encoded ones). */
function newActions(actions: readonly NoteAction[], reply: readonly unknown[], duplicates: number): readonly NoteAction[] {
  const objects = actions.every((a) => a !== null && typeof a === "object") ? actions : actions.filter((a) => a !== null && typeof a === "object");
  if (duplicates === 0) return objects;
  const dup = new Set(reply.slice(8).map(Number));
  return objects.filter((_, i) => !dup.has(i));
}
