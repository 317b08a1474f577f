/**
 * Every key of the Redis delivery engine, built in one place: `{prefix}s:{sessionId}:{part}` for a
 * session's keys and `{prefix}due`, `{prefix}dead`, `{prefix}dead:bytes` for the shared ones. The
 * order of {@link DeliveryKeys.session} is the KEYS order the delivery scripts expect.
 */
export class DeliveryKeys {
  readonly due: string;
  readonly dead: string;
  readonly deadBytes: string;
  readonly #prefix: string;

  constructor(prefix: string) {
    if (typeof prefix !== "string") throw new TypeError(`Expected \`keyPrefix\` to be a string, got ${typeof prefix}`);
    this.#prefix = prefix;
    this.due = `${prefix}due`;
    this.dead = `${prefix}dead`;
    this.deadBytes = `${prefix}dead:bytes`;
  }

  meta(sessionId: string): string {
    return `${this.#prefix}s:${sessionId}:meta`;
  }

  parts(sessionId: string): string {
    return `${this.#prefix}s:${sessionId}:parts`;
  }

  /** Where one `takeDeadLetters` call keeps what it took until its reply is known. */
  taken(takeId: string): string {
    return `${this.#prefix}dead:taken:${takeId}`;
  }

  /** The session's delivered-note records (summaries: which actions each note carried). */
  notes(sessionId: string): string {
    return `${this.#prefix}s:${sessionId}:notes`;
  }

  /**
   * meta, pre, flush, pending, inflight, parts, dedupe (the scripts call it `seen`), done, due,
   * dead, dead:bytes, notes, summaries, redact.
   */
  session(sessionId: string): string[] {
    const base = `${this.#prefix}s:${sessionId}:`;
    return [
      `${base}meta`, `${base}pre`, `${base}flush`, `${base}pending`, `${base}inflight`, `${base}parts`, `${base}dedupe`, `${base}done`,
      this.due, this.dead, this.deadBytes, `${base}notes`, `${base}summaries`, `${base}redact`,
    ];
  }
}
