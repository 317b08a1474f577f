import type { DeliveryHost } from "../writer/delivery-engine.js";
import type { RedisConnection } from "./connection.js";
import type { EvictionPolicyCheck } from "./eviction-policy.js";
import type { OutcomeContext } from "./note-outcomes.js";
import type { WakeUps } from "./redis-wake-ups.js";

/**
 * What the Redis engine's pieces (intake, claims, posting, outcomes, redactions) share. One
 * object, built once by {@link RedisDelivery}; it is also the context the outcome and redaction
 * steps take. This process's own bookkeeping only: the sessions' state lives in Redis.
 */
export interface RedisEngineState extends OutcomeContext {
  readonly redis: RedisConnection;
  /** A claim's lease, in ms: twice `postTimeoutMs` plus `leaseMarginMs`. */
  readonly leaseMs: number;
  readonly policy: EvictionPolicyCheck;
  /** Local wake-ups: when this process should try to claim a session. */
  readonly wakes: WakeUps;
  /** Sessions this process is claiming or posting right now. */
  readonly busy: Map<string, Promise<boolean>>;
  /** Claim ids whose CLAIM outcome is unknown (reply lost): the next try re-runs the same claim. */
  readonly openClaims: Map<string, string>;
  /** Sessions whose claimed note's call or outcome step has not settled yet. */
  readonly unsettled: Set<string>;
  /** Sessions that may have redactions queued (after a confirmed summary, or found by the poller). */
  readonly mayRedact: Set<string>;
  /** `close()` began: no intake, no polling, wake-ups are noted instead of set. */
  closing: boolean;
  /** `close()`'s drain ran out of time: no new note is claimed. */
  drainStopped: boolean;
  /** `close()`'s bound ran out: nothing more is claimed, recorded or awaited. */
  abandoned: boolean;
}

/** Resolves once the start-time eviction policy check passed (it runs again after an unreachable server). */
export function ready(engine: RedisEngineState): Promise<void> {
  return engine.policy.passed ? Promise.resolve() : engine.policy.run();
}

/** Logs a failed step as an error, with its message. */
export function reportError(host: DeliveryHost, message: string, error: unknown, sessionId?: string): void {
  host.log("error", message, { sessionId, error: error instanceof Error ? error.message : String(error) });
}
