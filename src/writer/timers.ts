/**
 * The one owner of a writer's timers. Every timer the delivery policy uses is started, replaced
 * and cleared here, so the writer can tell when it is idle and `close()` can clear them all.
 *
 * Delivery timers are deliberately *not* `unref()`'d: a pending note is work the process still
 * owes, and letting the process exit under it would lose actions silently. Housekeeping timers
 * (the idle sweep) are unref'd. Callbacks catch their own errors and report them to `onError`.
 */

import { MAX_TIMER_MS } from "../option-checks.js";

/** The delivery timers one session may hold. */
export interface TimerSlots {
  debounce: NodeJS.Timeout | undefined;
  maxWait: NodeJS.Timeout | undefined;
  retry: NodeJS.Timeout | undefined;
  /** The next try of a failed redaction. */
  redact: NodeJS.Timeout | undefined;
}

export type TimerSlot = keyof TimerSlots;

export function emptyTimerSlots(): TimerSlots {
  return { debounce: undefined, maxWait: undefined, retry: undefined, redact: undefined };
}

export class TimerOwner {
  #active = 0;
  readonly #onError: (error: unknown) => void;
  readonly #onQuiet: () => void;

  /**
   * @param onError receives anything a callback throws.
   * @param onQuiet called after a timer callback ran and no delivery timer is left.
   */
  constructor(onError: (error: unknown) => void, onQuiet: () => void) {
    this.#onError = onError;
    this.#onQuiet = onQuiet;
  }

  /** Delivery timers currently pending. */
  get active(): number {
    return this.#active;
  }

  /** Starts `slot`, replacing a timer already there. */
  start(slots: TimerSlots, slot: TimerSlot, delayMs: number, callback: () => void): void {
    const previous = slots[slot];
    if (previous !== undefined) clearTimeout(previous);
    else this.#active++;
    slots[slot] = setTimeout(() => {
      slots[slot] = undefined;
      this.#active--;
      try {
        callback();
      } catch (error) {
        this.#onError(error);
      }
      if (this.#active === 0) this.#onQuiet();
    }, clampDelay(delayMs));
  }

  /** Restarts a running `slot` with its original delay; false when the slot is not running. */
  refresh(slots: TimerSlots, slot: TimerSlot): boolean {
    const timer = slots[slot];
    if (timer === undefined) return false;
    timer.refresh();
    return true;
  }

  /** Starts `slot` only when it is not already running. */
  ensure(slots: TimerSlots, slot: TimerSlot, delayMs: number, callback: () => void): void {
    if (slots[slot] === undefined) this.start(slots, slot, delayMs, callback);
  }

  clear(slots: TimerSlots, slot: TimerSlot): void {
    const timer = slots[slot];
    if (timer === undefined) return;
    clearTimeout(timer);
    slots[slot] = undefined;
    // No onQuiet here: a clear is part of some larger step (which may start a post right after);
    // the writer checks for idleness once that step is done.
    this.#active--;
  }

  clearAll(slots: TimerSlots): void {
    this.clear(slots, "debounce");
    this.clear(slots, "maxWait");
    this.clear(slots, "retry");
    this.clear(slots, "redact");
  }
}

/**
 * A delay Node's timers can hold: from 0 to {@link MAX_TIMER_MS}. Node fires a longer (or NaN)
 * delay after 1 ms, so an unclamped "wait a month" hint would become a call storm.
 */
export function clampDelay(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  return Math.min(delayMs, MAX_TIMER_MS);
}

/** An unref'd interval for housekeeping that must never keep a process alive. */
export function startHousekeeping(intervalMs: number, callback: () => void, onError: (error: unknown) => void): NodeJS.Timeout {
  const timer = setInterval(() => {
    try {
      callback();
    } catch (error) {
      onError(error);
    }
  }, intervalMs);
  timer.unref();
  return timer;
}

/**
 * Whether `work` settles within `timeoutMs`: true once it resolves, false when the bound comes
 * first (the bound's timer is cleared either way). A rejection of `work` is passed on.
 */
export async function resolvesWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([work.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
