import { formatNoteColumns } from "../note/format.js";
import { claimNote, renewLease, untilKnown } from "./redis-claims.js";
import { confirmNote, recordFailure, type Claim } from "./note-outcomes.js";
import { ready, type RedisEngineState } from "./redis-engine-state.js";

/** One claim, one post, one outcome step. Returns whether a note was claimed. */
export async function claimAndPost(engine: RedisEngineState, sessionId: string, force: boolean): Promise<boolean> {
  const { host } = engine;
  if (!engine.policy.passed) await ready(engine);
  const claim = await claimNote(engine, sessionId, force);
  if (claim === null) return false;
  const body = noteBody(engine, sessionId, claim);
  engine.unsettled.add(sessionId);
  let slow = false;
  let renewal: NodeJS.Timeout | undefined;
  const onSlow = () => {
    slow = true;
    // One session never has two calls that may land: keep the lease while this one is pending.
    const renew = () => {
      // Once close() gave up on this call, the lease is left to run out: another process takes over.
      if (engine.abandoned) clearInterval(renewal);
      else void renewLease(engine, sessionId, claim.id);
    };
    renew();
    renewal = setInterval(renew, Math.max(10, Math.floor(engine.leaseMs / 3)));
    renewal.unref();
  };
  const started = host.options.now();
  let partId: string | null;
  try {
    partId = await host.post({
      conversationId: claim.conversationId, body, sessionId, attempt: claim.attempt, idempotencyKey: claim.noteId, onSlow,
    });
  } catch (error) {
    clearInterval(renewal);
    if (!engine.abandoned) await recordFailure(engine, sessionId, claim, body, error, slow);
    return true;
  } finally {
    clearInterval(renewal);
  }
  if (!engine.abandoned) await confirmNote(engine, sessionId, claim, partId, host.options.now() - started);
  return true;
}

/** Runs an outcome step until its outcome is known (or close() gives up); the session is then settled. */
export async function settleOutcome<T>(engine: RedisEngineState, sessionId: string, step: () => Promise<T>): Promise<T> {
  const result = await untilKnown(engine, step, Number.POSITIVE_INFINITY);
  engine.unsettled.delete(sessionId);
  return result;
}

/** The claimed note's body: deterministic in the claimed entries, so a frozen note is posted again byte for byte. */
function noteBody(engine: RedisEngineState, sessionId: string, claim: Claim): string {
  const o = engine.host.options;
  const binSeconds = claim.kind === "flush" ? o.binSeconds : 0;
  return claim.summaryBody ?? formatNoteColumns(sessionId, claim.descriptions, claim.starts, binSeconds, o.now() / 1000);
}
