/**
 * Bounds commands in flight with one shared, unref'd watchdog timer instead of a timer (or an
 * `AbortSignal.timeout`) per command: at tens of thousands of commands a second, a timer per
 * command costs more than the command. A command is failed between `timeoutMs` and
 * `timeoutMs + timeoutMs / 4` after it started; its late reply, if any, is ignored.
 */
export class CommandDeadlines {
  readonly #pending = new Set<{ deadline: number; expire: () => void }>();
  #watchdog: NodeJS.Timeout | undefined;

  /** Settles like `work`, or rejects with `makeError()` once `timeoutMs` has passed. */
  bound<T>(work: Promise<T>, timeoutMs: number, makeError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { deadline: Date.now() + timeoutMs, expire: () => reject(makeError()) };
      this.#pending.add(entry);
      this.#watch(timeoutMs);
      work.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.#pending.delete(entry);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Stops the watchdog; commands still pending are left to settle on their own. */
  stop(): void {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  #watch(timeoutMs: number): void {
    if (this.#watchdog !== undefined) return;
    this.#watchdog = setInterval(() => this.#expire(), Math.max(10, Math.floor(timeoutMs / 4)));
    this.#watchdog.unref();
  }

  #expire(): void {
    const now = Date.now();
    for (const entry of this.#pending) {
      if (entry.deadline > now) continue;
      this.#pending.delete(entry);
      entry.expire();
    }
    if (this.#pending.size === 0) this.stop();
  }
}
