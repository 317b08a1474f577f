import { MAX_TIMER_MS } from "../option-checks.js";

/** What the wake-ups need from their engine. */
export interface WakeUpHooks {
  /** The writer's clock, epoch ms. */
  now(): number;
  /** True once `close()` began: a session that owes work is noted, not woken. */
  closing(): boolean;
  /** A wake-up fired (it is already removed): try to claim the session. */
  wake(sessionId: string): void;
}

/**
 * The Redis engine's local wake-ups, one timer per session: when this process should try to
 * claim it. The one owner of those timers: a reschedule replaces, a negative time clears, and
 * `stop()` clears them all.
 */
export class WakeUps {
  readonly #wakes = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #hooks: WakeUpHooks;
  /** Sessions Redis said still owe work once close() began (a retry wait, a note after the drain). */
  readonly owedAtClose = new Set<string>();

  constructor(hooks: WakeUpHooks) {
    this.#hooks = hooks;
  }

  /** Sessions with a wake-up pending. */
  get size(): number {
    return this.#wakes.size;
  }

  has(sessionId: string): boolean {
    return this.#wakes.has(sessionId);
  }

  sessions(): IterableIterator<string> {
    return this.#wakes.keys();
  }

  /**
   * Wake this process at `at` (epoch ms) to claim the session. A negative `at` is Redis saying
   * the session owes nothing now (or another claim holds it): a wake-up still pending goes.
   * Replies arrive in the order their scripts ran (one connection), so a later one is newer.
   */
  schedule(sessionId: string, at: number): void {
    const existing = this.#wakes.get(sessionId);
    if (at < 0) {
      if (existing !== undefined) clearTimeout(existing.timer);
      this.#wakes.delete(sessionId);
      this.owedAtClose.delete(sessionId);
      return;
    }
    if (this.#hooks.closing()) {
      this.owedAtClose.add(sessionId); // left in Redis for another instance (close summary)
      return;
    }
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#hooks.now()));
    const timer = setTimeout(() => {
      this.#wakes.delete(sessionId);
      this.#hooks.wake(sessionId);
    }, delay);
    this.#wakes.set(sessionId, { at, timer });
  }

  /** Clears every pending wake-up (at close); returns the sessions they were for. */
  stop(): Set<string> {
    const left = new Set(this.#wakes.keys());
    for (const wake of this.#wakes.values()) clearTimeout(wake.timer);
    this.#wakes.clear();
    return left;
  }
}
