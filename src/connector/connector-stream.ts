/**
 * The connector's SSE stream in pull mode: one long GET, reconnected forever (with capped,
 * jittered backoff) until `stop()` or a fatal status. The reader only parses and enqueues; payloads
 * reach `onPayload` through per-session lanes, so no consumer can stall it (the connector has no
 * replay: whatever the reader misses is gone).
 */
import { parsePayload } from "../payloads/parse.js";
import { parseRetryAfter, reconnectDelay, sleep } from "./backoff.js";
import type { BackoffPolicy } from "./backoff.js";
import { ConnectorFatalError, describeError } from "./errors.js";
import { LogLimiter } from "./log-limiter.js";
import { resolveConnectorOptions } from "./options.js";
import type { ConnectorStreamOptions, ResolvedConnectorOptions } from "./options.js";
import { SessionLanes } from "./session-lanes.js";
import { SseParser } from "./sse-parser.js";
import type { SseEvent } from "./sse-parser.js";

/**
 * Counters of a {@link ConnectorStream}, for metrics: all cumulative (monotonic) except the
 * gauges `queued`, `queuedActions`, `connected` and `consecutiveFailures`.
 */
export interface ConnectorStreamStats {
  /** Streams opened (HTTP 200 with an event stream). */
  connects: number;
  /** Connection attempts after the first one. */
  reconnects: number;
  /** SSE events received, heartbeats included (oversized ones not). */
  frames: number;
  /** `event: heartbeat` frames. */
  heartbeats: number;
  /** Payloads parsed and queued for `onPayload`. */
  payloads: number;
  /** Frames that were not a readable payload (bad JSON, not an object, over 1 MiB); skipped, logged. */
  malformed: number;
  /** Events over `maxEventSize`, skipped to their end without dropping the connection; logged. */
  oversized: number;
  /** Payloads of a `type` this library does not know; skipped (SPEC §2), logged. */
  unknownTypes: number;
  /** Frames skipped on purpose: `unknownTypes` plus events without data to deliver (not heartbeats). */
  ignored: number;
  /** Payloads folded into an earlier queued one of their session under backpressure (no action lost). */
  merged: number;
  /** Payloads dropped (each merged part counts): over the queue bounds after merging, or `stop()` timed out. */
  dropped: number;
  /** Actions inside the dropped payloads. */
  droppedActions: number;
  /** `onPayload` calls that threw or rejected. */
  handlerErrors: number;
  /** Gauge: queued entries (a merged payload counts once) waiting for their session's turn. */
  queued: number;
  /** Gauge: actions inside the queued entries. */
  queuedActions: number;
  /** Gauge: whether a stream is open now. */
  connected: boolean;
  /**
   * Gauge: reconnect attempts since a healthy connection last ended (see `healthyConnectionMs`),
   * the exponent of the next backoff; it grows while the connector keeps failing.
   */
  consecutiveFailures: number;
  /** The status that stopped the stream for good, once one did. */
  fatalStatus?: number;
}

interface Outcome {
  /** SSE events this connection delivered, oversized ones included. */
  frames: number;
  /** When the stream opened (monotonic ms), if it did. */
  openedAt?: number;
  retryAfterMs?: number;
}

const FATAL_STATUSES = new Set([401, 403, 404]);
// Only printable ASCII may travel back in a header: anything else would make every reconnect throw.
const SAFE_HEADER_VALUE = /^[\x20-\x7e]{1,1024}$/;

/**
 * A reconnecting SSE client for the connector's `/stream/<product_id>` endpoint.
 *
 * - `event: heartbeat` frames (with or without data) and comments only prove liveness.
 * - Other events' data is read with `parsePayload`; unknown types and unreadable frames are
 *   counted, logged (rate-limited) and skipped. An event over `maxEventSize` is skipped to its end
 *   and counted; none of these closes the stream.
 * - Payloads without a session id go to one shared lane: sequential, like a session's.
 * - A 200 without `Content-Type` is read as a stream; one with another type is refused (a proxy's
 *   error page) and retried.
 * - `Last-Event-ID` carries the last event ID by the WHATWG rules: the `id:` of the last
 *   *dispatched* block (an id in a block cut off by a disconnect does not count; an empty `id:`
 *   clears it, and then no header is sent), when it is printable ASCII. The connector has no
 *   replay, so this is a courtesy, not a guarantee.
 * - The backoff grows until a connection proves healthy (`healthyConnectionMs`), so a connector
 *   that answers and dies at once is not hammered.
 * - The server's `retry:` field and a `Retry-After` header are floors on the next delay, capped
 *   by `maxBackoffMs` and `maxRetryAfterMs` respectively.
 */
export class ConnectorStream {
  /** Settles once the stream has fully stopped: resolves after `stop()`, rejects with {@link ConnectorFatalError} on 401/403/404. */
  readonly done: Promise<void>;
  readonly #o: ResolvedConnectorOptions;
  readonly #lanes: SessionLanes;
  readonly #backoff: BackoffPolicy;
  readonly #stop = new AbortController();
  readonly #counters = { connects: 0, reconnects: 0, frames: 0, heartbeats: 0, payloads: 0, malformed: 0, oversized: 0, unknownTypes: 0, ignored: 0 };
  readonly #limiter = new LogLimiter();
  #attempt = 0;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #lifecycle: Promise<void> | undefined;
  #connected = false;
  #fatalStatus: number | undefined;
  #lastEventId = "";
  #serverRetryMs: number | undefined;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: ConnectorStreamOptions) {
    this.#o = resolveConnectorOptions(options);
    const o = this.#o;
    this.#backoff = { initialMs: o.initialBackoffMs, maxMs: o.maxBackoffMs, jitter: o.jitter, random: o.random };
    this.#lanes = new SessionLanes({
      handler: o.onPayload,
      maxPerSession: o.maxQueuedPerSession,
      maxTotal: o.maxQueuedTotal,
      maxActions: o.maxQueuedActions,
      maxMergedActions: o.maxMergedActions,
      maxMergedChars: o.maxMergedChars,
      limiter: this.#limiter,
      log: (level, message, fields) => this.#log(level, message, fields),
    });
    this.done = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
    // Whoever never awaits `done` must not get an unhandled rejection; awaiting it still throws.
    this.done.catch(() => undefined);
  }

  /** Starts reading in the background. Idempotent; a stopped stream cannot be restarted. */
  start(): void {
    if (this.#lifecycle !== undefined || this.#stop.signal.aborted) return;
    this.#lifecycle = this.#run().catch((error: unknown) => this.#settle?.reject(error));
  }

  /**
   * Closes the connection, cancels any reconnect wait, then lets queued payloads reach
   * `onPayload` for up to `stopTimeoutMs` (what is left is dropped, logged and counted).
   * Resolves when all that is over, even after a fatal status. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#lifecycle === undefined) {
      this.#lifecycle = Promise.resolve();
      this.#settle?.resolve();
    }
    await this.#lifecycle;
  }

  /** A snapshot of the counters (a fresh object; cheap enough to call on every metrics scrape). */
  stats(): ConnectorStreamStats {
    const stats: ConnectorStreamStats = {
      ...this.#counters,
      ...this.#lanes.counters,
      queued: this.#lanes.queued,
      queuedActions: this.#lanes.queuedActions,
      connected: this.#connected,
      consecutiveFailures: this.#attempt,
    };
    if (this.#fatalStatus !== undefined) stats.fatalStatus = this.#fatalStatus;
    return stats;
  }

  async #run(): Promise<void> {
    let failure: unknown;
    try {
      await this.#loop();
    } catch (error) {
      failure = error;
      this.#log("error", `connector: ${describeError(error)}`);
    }
    await this.#drain();
    if (failure === undefined) this.#settle?.resolve();
    else this.#settle?.reject(failure);
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    for (let first = true; !signal.aborted; first = false) {
      if (!first) this.#counters.reconnects++;
      const outcome = await this.#connect();
      if (signal.aborted) return;
      // Only a connection that lasted resets the backoff: one frame and a crash is a failure.
      if (this.#wasHealthy(outcome)) this.#attempt = 0;
      const hint = Math.min(this.#serverRetryMs ?? 0, this.#o.maxBackoffMs);
      const floor = Math.max(hint, Math.min(outcome.retryAfterMs ?? 0, this.#o.maxRetryAfterMs));
      const delayMs = reconnectDelay(this.#attempt++, this.#backoff, floor);
      this.#log("info", `connector: reconnecting in ${delayMs} ms`, { attempt: this.#attempt });
      await sleep(delayMs, signal);
    }
  }

  #wasHealthy(outcome: Outcome): boolean {
    return outcome.frames > 0 && outcome.openedAt !== undefined && performance.now() - outcome.openedAt >= this.#o.healthyConnectionMs;
  }

  // One connection attempt; only a fatal status escapes as an error.
  async #connect(): Promise<Outcome> {
    const stop = this.#stop.signal;
    const connection = new AbortController();
    const abort = (): void => connection.abort();
    stop.addEventListener("abort", abort);
    let silent = false;
    // Unref'd: while a connection is open its socket already keeps the process alive.
    const watchdog = setTimeout(() => {
      silent = true;
      connection.abort();
    }, this.#o.silenceTimeoutMs).unref();
    const outcome: Outcome = { frames: 0 };
    try {
      const response = await this.#o.fetch(this.#o.url, { headers: this.#headers(), signal: connection.signal });
      watchdog.refresh();
      if (this.#accept(response, outcome) && response.body !== null) await this.#read(response.body, watchdog, outcome);
    } catch (error) {
      if (error instanceof ConnectorFatalError) throw error;
      if (!stop.aborted) this.#connectionFailed(error, silent);
    } finally {
      this.#connected = false;
      clearTimeout(watchdog);
      stop.removeEventListener("abort", abort);
      // Also tears down a response body nobody read (a refused attempt), freeing the socket.
      connection.abort();
    }
    return outcome;
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {
      Accept: "text/event-stream",
      Authorization: `Bearer ${this.#o.token}`,
      "Cache-Control": "no-cache",
    };
    if (SAFE_HEADER_VALUE.test(this.#lastEventId)) headers["Last-Event-ID"] = this.#lastEventId;
    return headers;
  }

  /**
   * True when `response` is a stream to read. Otherwise notes a `Retry-After` in `outcome`, or
   * throws {@link ConnectorFatalError} for a status that retrying cannot fix.
   */
  #accept(response: Response, outcome: Outcome): boolean {
    const { status } = response;
    if (FATAL_STATUSES.has(status)) {
      this.#fatalStatus = status;
      throw new ConnectorFatalError(status, this.#o.url);
    }
    // A missing Content-Type is tolerated; an explicit other one is a proxy's error page.
    const type = response.headers.get("content-type");
    const isStream = type === null || /^text\/event-stream\s*(;|$)/i.test(type);
    if (status === 200 && isStream) {
      this.#counters.connects++;
      this.#connected = true;
      outcome.openedAt = performance.now();
      this.#log("info", "connector: stream connected", { url: this.#o.url });
      return true;
    }
    outcome.retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), this.#o.now());
    const why = status === 200 ? `content-type ${JSON.stringify(type)}, not text/event-stream` : `HTTP ${status}`;
    this.#log("warn", `connector: stream refused (${why})`, { status, retryAfterMs: outcome.retryAfterMs });
    return false;
  }

  async #read(body: ReadableStream<Uint8Array>, watchdog: NodeJS.Timeout, outcome: Outcome): Promise<void> {
    // The last event ID carries over a reconnect, as in browsers: a new connection's blocks
    // without `id:` keep it; an empty `id:` clears it.
    const parser = new SseParser({ maxEventSize: this.#o.maxEventSize, dispatchDataless: true, skipOversized: true, lastEventId: this.#lastEventId });
    const reader = body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      watchdog.refresh();
      const skipped = parser.oversized;
      for (const event of parser.push(chunk.value)) this.#onEvent(event, outcome);
      if (parser.oversized > skipped) this.#onOversized(parser.oversized - skipped, outcome);
      this.#lastEventId = parser.lastEventId;
      this.#serverRetryMs = parser.retryMs ?? this.#serverRetryMs;
    }
    for (const event of parser.end()) this.#onEvent(event, outcome);
    this.#lastEventId = parser.lastEventId;
    this.#log("warn", "connector: stream ended by the server");
  }

  #onOversized(count: number, outcome: Outcome): void {
    this.#counters.oversized += count;
    outcome.frames += count;
    this.#limitedLog("oversized", "error", `connector: server-sent event larger than ${this.#o.maxEventSize} characters skipped`, {
      oversized: this.#counters.oversized,
    });
  }

  #onEvent(event: SseEvent, outcome: Outcome): void {
    this.#counters.frames++;
    outcome.frames++;
    if (event.type === "heartbeat") {
      this.#counters.heartbeats++;
      return;
    }
    if (event.data.trim() === "") {
      this.#counters.ignored++; // a dataless block carries nothing to deliver
      return;
    }
    let payload;
    try {
      payload = parsePayload(event.data, { onWarning: (message) => this.#limitedLog("payload-warning", "warn", `connector: ${message}`) });
    } catch (error) {
      this.#counters.malformed++;
      // The reason only: frames carry e-mails and URLs that do not belong in logs.
      this.#limitedLog("malformed", "warn", "connector: malformed frame skipped", {
        error: describeError(error),
        chars: event.data.length,
        malformed: this.#counters.malformed,
      });
      return;
    }
    if (payload === null) {
      this.#counters.unknownTypes++;
      this.#counters.ignored++;
      this.#limitedLog("unknown-type", "warn", "connector: frame of an unknown type skipped", () => ({
        type: typeOf(event.data),
        unknownTypes: this.#counters.unknownTypes,
      }));
      return;
    }
    this.#counters.payloads++;
    this.#lanes.push(payload);
  }

  #connectionFailed(error: unknown, silent: boolean): void {
    if (silent) {
      this.#log("warn", `connector: no bytes for ${this.#o.silenceTimeoutMs} ms (silenceTimeoutMs); connection presumed dead`);
    } else {
      this.#log("warn", "connector: connection failed", { error: describeError(error) });
    }
  }

  async #drain(): Promise<void> {
    const timeoutMs = this.#o.stopTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, true)));
    const idle = this.#lanes.whenIdle().then(() => false);
    const late = await Promise.race([idle, timedOut]);
    clearTimeout(timer);
    if (late) this.#lanes.abandon(`not handed over within stopTimeoutMs (${timeoutMs} ms)`);
  }

  /** Logs at most one line of `key` per interval; `fields` may be a function, computed only when the line goes out. */
  #limitedLog(key: string, level: "warn" | "error", message: string, fields?: Record<string, unknown> | (() => Record<string, unknown>)): void {
    const suppressed = this.#limiter.take(key);
    if (suppressed === undefined) return;
    const base = typeof fields === "function" ? fields() : fields;
    this.#log(level, message, suppressed > 0 ? { ...base, suppressed } : base);
  }

  #log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void {
    try {
      this.#o.logger[level]?.(message, fields);
    } catch {
      // A failing log sink must not take the stream down with it.
    }
  }
}

/** The `type` of an unknown frame, made safe for a log line (bounded, printable). */
function typeOf(data: string): string {
  let type: unknown;
  try {
    type = (JSON.parse(data) as { type?: unknown }).type;
  } catch {
    return "(unreadable)";
  }
  if (typeof type !== "string") return `(${type === null ? "null" : typeof type})`;
  return JSON.stringify(type.slice(0, 64)).replace(/[^\x20-\x7e]/g, "?");
}
