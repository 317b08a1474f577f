import type { DeadLetterStore } from "./dead-letter-store.js";
import type { DeliveryHost } from "./delivery-engine.js";
import type { RedactionLane } from "./redaction-lane.js";
import type { TimerOwner } from "./timers.js";

/**
 * What the memory engine's pieces (intake, posting queue, summaries, dead letters) share. One
 * object, built once by {@link MemoryDelivery}, passed to each step: the steps are plain functions
 * so the hot path costs no allocation and no indirection beyond a property read.
 */
export interface MemoryEngineState {
  readonly host: DeliveryHost;
  /** The one owner of the engine's timers (debounce, max-wait, retry, redaction retry). */
  readonly timers: TimerOwner;
  readonly dead: DeadLetterStore;
  readonly redactions: RedactionLane;
  /** Posts and redaction calls in flight. */
  inFlight: number;
  /** `close()` began: nothing new is accepted, and pending notes go without their debounce. */
  closing: boolean;
  /** `close()` reached its bound: nothing more is posted, what is owed goes to the dead letter. */
  abandoning: boolean;
  /** Resolves `onIdle()` waiters once nothing is in flight and no delivery timer is pending. */
  checkIdle(): void;
}
