import { randomBytes } from "node:crypto";
import { RedisUnavailableError } from "./commands.js";
import { CLAIM, RENEW } from "./delivery-scripts.js";
import { parseClaim, type Claim } from "./note-outcomes.js";
import { reportError, type RedisEngineState } from "./redis-engine-state.js";

/** How many times a CLAIM whose reply was lost is re-run at once before the session is woken later. */
const CLAIM_TRIES = 4;

/** Runs CLAIM, re-running it with the same claim id while its reply is lost. Null: nothing claimed. */
export async function claimNote(engine: RedisEngineState, sessionId: string, force: boolean): Promise<Claim | null> {
  const o = engine.host.options;
  const claimId = engine.openClaims.get(sessionId) ?? newClaimId();
  engine.openClaims.set(sessionId, claimId);
  const keys = engine.keys.session(sessionId);
  const args = () => [sessionId, o.now(), claimId, engine.leaseMs, o.maxNoteActions, o.maxNoteChars, o.postLinkDebounceMs, o.maxWaitMs, force ? 1 : 0, engine.ttlMs];
  let reply: unknown[];
  try {
    reply = (await untilKnown(engine, () => CLAIM.run(engine.redis, keys, args()), CLAIM_TRIES)) as unknown[];
  } catch (error) {
    // The claim may have been made: try again soon with the same id rather than wait for a lease.
    engine.wakes.schedule(sessionId, o.now() + 500);
    throw error;
  }
  engine.openClaims.delete(sessionId);
  if (Number(reply[0]) !== 1) {
    const at = Number(reply[1]);
    if (at < 0 || at > o.now()) engine.wakes.schedule(sessionId, at); // nothing owed, or not due yet
    return null;
  }
  return parseClaim(claimId, reply);
}

/** Extends the claim's lease while its call is pending; a lost lease is logged (another process may post). */
export async function renewLease(engine: RedisEngineState, sessionId: string, claimId: string): Promise<void> {
  try {
    const args = [sessionId, claimId, engine.host.options.now(), engine.leaseMs];
    const reply = (await RENEW.run(engine.redis, engine.keys.session(sessionId), args)) as number[];
    if (Number(reply[0]) !== 1) engine.host.log("warn", "lease lost while the call was pending; another process may post this session", { sessionId });
  } catch (error) {
    reportError(engine.host, "renewing the lease of a pending call failed", error, sessionId);
  }
}

/** Re-runs an idempotent step while Redis is unreachable (its reply may have been lost), until close() gives up. */
export async function untilKnown<T>(engine: RedisEngineState, step: () => Promise<T>, tries: number): Promise<T> {
  for (let attempt = 1, delay = 50; ; attempt++, delay = Math.min(delay * 2, 1000)) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError) || attempt >= tries || engine.abandoned) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** 96 random bits: names one claim, and the note it starts (the idempotency key). */
function newClaimId(): string {
  return randomBytes(12).toString("base64url");
}
