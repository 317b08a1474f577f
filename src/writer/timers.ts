/**
 * The one owner of a writer's timers. Every timer the delivery policy uses is started, replaced
 * and cleared here, so the writer can tell when it is idle and `close()` can clear them all.
 *
 * Delivery timers are deliberately *not* `unref()`'d: a pending note is work the process still
 * owes, and letting the process exit under it would lose actions silently. Housekeeping timers
 * (the idle sweep) are unref'd. Callbacks catch their own errors and report them to `onError`.
 */

/** The delivery timers one session may hold. */
export interface TimerSlots {
  debounce: NodeJS.Timeout | undefined;
  maxWait: NodeJS.Timeout | undefined;
  retry: NodeJS.Timeout | undefined;
}

export type TimerSlot = keyof TimerSlots;

export function emptyTimerSlots(): TimerSlots {
  return { debounce: undefined, maxWait: undefined, retry: undefined };
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
    }, Math.max(0, delayMs));
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
  }
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
 * Settles with `work`, or rejects with `makeError()` after `timeoutMs` (calling `onTimeout`
 * with that error first). A late rejection of `work` is swallowed: the caller has moved on.
 */
export function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  makeError: () => Error,
  onTimeout: (error: Error) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = makeError();
      onTimeout(error);
      reject(error);
    }, timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Waits up to `timeoutMs` for `work`: its value if it resolved in time, else `settled: false`. */
export async function settleWithin<T>(work: Promise<T>, timeoutMs: number): Promise<{ settled: true; value: T } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<{ settled: false }>((resolve) => (timer = setTimeout(() => resolve({ settled: false }), timeoutMs)));
  try {
    return await Promise.race([work.then((value) => ({ settled: true as const, value }), () => ({ settled: false as const })), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An abort signal made only when somebody reads it. Most platform calls never look at their
 * signal and most never time out, and an AbortController costs microseconds per post.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #reason: Error | undefined;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    this.#reason ??= reason;
    this.#controller?.abort(reason);
  }
}
