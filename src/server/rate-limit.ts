import type { Logger } from "./logger.js";

/**
 * Lets one event per key through every `windowMs`, counting the ones it holds back, so a failure
 * that repeats every 500 ms is one log line per window that says how many were like it.
 */
export class RateLimiter {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly windowMs: number,
    readonly now: () => number = Date.now,
    readonly maxKeys = 1_000,
  ) {}

  /** `null` to stay quiet; otherwise how many were held back since the last one let through. */
  allow(key: string): number | null {
    const now = this.now();
    const entry = this.#last.get(key);
    if (entry !== undefined && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#last.delete(key);
    this.#last.set(key, { at: now, suppressed: 0 });
    if (this.#last.size > this.maxKeys) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    return suppressed;
  }
}

/**
 * The logger for library code (writer, Redis delivery, stream): warnings and errors with the
 * same message are let through once per `windowMs`, with `suppressed` counting the repeats held
 * back. Messages in `always` (e.g. each dead letter, which carries what is needed to recover it)
 * are never held back.
 */
export function rateLimitedLogger(logger: Logger, options: { windowMs?: number; always?: readonly string[]; now?: () => number } = {}): Logger {
  const limiter = new RateLimiter(options.windowMs ?? 30_000, options.now);
  const always = new Set(options.always ?? []);
  const limited = (level: "warn" | "error") => (message: string, fields?: Record<string, unknown>) => {
    if (always.has(message)) return logger[level](message, fields);
    const suppressed = limiter.allow(`${level}\u0000${message}`);
    if (suppressed === null) return;
    logger[level](message, suppressed > 0 ? { ...fields, suppressed } : fields);
  };
  return { debug: (m, f) => logger.debug(m, f), info: (m, f) => logger.info(m, f), warn: limited("warn"), error: limited("error") };
}
