/**
 * The connector's SSE stream in pull mode: one long GET, reconnected forever (with capped,
 * jittered backoff) until `stop()` or a fatal status. The reader only parses and enqueues; payloads
 * reach `onPayload` through per-session lanes, so no consumer can stall it (the connector has no
 * replay: whatever the reader misses is gone).
 */
import { parsePayload } from "../payloads/parse.js";
import { parseRetryAfter, reconnectDelay, sleep } from "./backoff.js";
import type { BackoffPolicy } from "./backoff.js";
import { ConnectorFatalError, SseEventTooLargeError, describeError } from "./errors.js";
import { resolveConnectorOptions } from "./options.js";
import type { ConnectorStreamOptions, ResolvedConnectorOptions } from "./options.js";
import { SessionLanes } from "./session-lanes.js";
import { SseParser } from "./sse-parser.js";
import type { SseEvent } from "./sse-parser.js";

/** Counters of a {@link ConnectorStream}; all cumulative except `queued` and `connected`. */
export interface ConnectorStreamStats {
  /** Streams opened (HTTP 200 with an event stream). */
  connects: number;
  /** Connection attempts after the first one. */
  reconnects: number;
  /** SSE events received, heartbeats included. */
  frames: number;
  heartbeats: number;
  /** Payloads parsed and queued for `onPayload`. */
  payloads: number;
  /** Frames that were not a readable payload (bad JSON, not an object, too large); skipped. */
  malformed: number;
  /** Payloads of a `type` this library does not know; skipped (SPEC §2). */
  ignored: number;
  /** Payloads folded into an earlier one of their session under backpressure (no action lost). */
  merged: number;
  /** Queued payloads dropped: the total queue overflowed, or `stop()` timed out. */
  dropped: number;
  /** `onPayload` calls that threw or rejected. */
  handlerErrors: number;
  /** Payloads waiting for their session's turn now. */
  queued: number;
  /** Whether a stream is open now. */
  connected: boolean;
  /** The status that stopped the stream for good, once one did. */
  fatalStatus?: number;
}

interface Outcome {
  /** SSE events this connection delivered: any resets the backoff. */
  frames: number;
  retryAfterMs?: number;
}

const FATAL_STATUSES = new Set([401, 403, 404]);
// Only printable ASCII may travel back in a header: anything else would make every reconnect throw.
const SAFE_HEADER_VALUE = /^[\x20-\x7e]{1,1024}$/;

/**
 * A reconnecting SSE client for the connector's `/stream/<product_id>` endpoint.
 *
 * - `event: heartbeat` frames (with or without data) and comments only prove liveness.
 * - Other events' data is read with `parsePayload`; unknown types are ignored, unreadable frames
 *   logged and skipped. Neither ever closes the stream; an oversized event does (it is reopened).
 * - Payloads without a session id go to one shared lane: sequential, like a session's.
 * - A 200 without `Content-Type` is read as a stream; one with another type is refused (a proxy's
 *   error page) and retried.
 * - `Last-Event-ID` echoes the last `id:` when it is printable ASCII; the connector has no replay,
 *   so this is a courtesy, not a guarantee.
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
  readonly #counters = { connects: 0, reconnects: 0, frames: 0, heartbeats: 0, payloads: 0, malformed: 0, ignored: 0 };
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

  /** A snapshot of the counters. */
  stats(): ConnectorStreamStats {
    const stats: ConnectorStreamStats = { ...this.#counters, ...this.#lanes.counters, queued: this.#lanes.queued, connected: this.#connected };
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
    let attempt = 0;
    for (let first = true; !signal.aborted; first = false) {
      if (!first) this.#counters.reconnects++;
      const outcome = await this.#connect();
      if (signal.aborted) return;
      if (outcome.frames > 0) attempt = 0;
      const hint = Math.min(this.#serverRetryMs ?? 0, this.#o.maxBackoffMs);
      const floor = Math.max(hint, Math.min(outcome.retryAfterMs ?? 0, this.#o.maxRetryAfterMs));
      const delayMs = reconnectDelay(attempt++, this.#backoff, floor);
      this.#log("info", `connector: reconnecting in ${delayMs} ms`, { attempt });
      await sleep(delayMs, signal);
    }
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
    }, this.#o.heartbeatTimeoutMs).unref();
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
      this.#log("info", "connector: stream connected", { url: this.#o.url });
      return true;
    }
    outcome.retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), this.#o.now());
    const why = status === 200 ? `content-type ${JSON.stringify(type)}, not text/event-stream` : `HTTP ${status}`;
    this.#log("warn", `connector: stream refused (${why})`, { status, retryAfterMs: outcome.retryAfterMs });
    return false;
  }

  async #read(body: ReadableStream<Uint8Array>, watchdog: NodeJS.Timeout, outcome: Outcome): Promise<void> {
    const parser = new SseParser({ maxEventSize: this.#o.maxEventSize, dispatchDataless: true });
    const reader = body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      watchdog.refresh();
      for (const event of parser.push(chunk.value)) this.#onEvent(event, outcome);
      if (parser.lastEventId !== "") this.#lastEventId = parser.lastEventId;
      this.#serverRetryMs = parser.retryMs ?? this.#serverRetryMs;
    }
    for (const event of parser.end()) this.#onEvent(event, outcome);
    this.#log("warn", "connector: stream ended by the server");
  }

  #onEvent(event: SseEvent, outcome: Outcome): void {
    this.#counters.frames++;
    outcome.frames++;
    if (event.type === "heartbeat") {
      this.#counters.heartbeats++;
      return;
    }
    if (event.data.trim() === "") return; // a dataless block carries nothing to deliver
    let payload;
    try {
      payload = parsePayload(event.data, { onWarning: (message) => this.#log("warn", `connector: ${message}`) });
    } catch (error) {
      this.#counters.malformed++;
      // The reason only: frames carry e-mails and URLs that do not belong in logs.
      this.#log("warn", "connector: malformed frame skipped", { error: describeError(error), chars: event.data.length });
      return;
    }
    if (payload === null) {
      this.#counters.ignored++;
      return;
    }
    this.#counters.payloads++;
    this.#lanes.push(payload);
  }

  #connectionFailed(error: unknown, silent: boolean): void {
    if (silent) {
      this.#log("warn", `connector: no bytes for ${this.#o.heartbeatTimeoutMs} ms; connection presumed dead`);
    } else if (error instanceof SseEventTooLargeError) {
      this.#counters.malformed++;
      this.#log("error", `connector: ${error.message}; dropping the connection`);
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

  #log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void {
    try {
      this.#o.logger[level]?.(message, fields);
    } catch {
      // A failing log sink must not take the stream down with it.
    }
  }
}
