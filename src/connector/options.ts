/** Options of {@link ConnectorStream}, their defaults, and their validation. */
import type { ActionsPayload, SummaryPayload } from "../payloads/types.js";
import type { JitterMode } from "./backoff.js";
import { checkFunction, checkNumber, stderrLogger } from "../option-checks.js";

/** Where the stream reports what operators should see. Every method is optional. */
export interface ConnectorLogger {
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Options of a {@link ConnectorStream}. Times are milliseconds. */
export interface ConnectorStreamOptions {
  /** The stream endpoint, e.g. `https://connector.example/stream/<product_id>`. Required. */
  url: string;
  /** Bearer token sent as `Authorization: Bearer <token>`. Never logged. Required. */
  token: string;
  /**
   * Receives every payload: sequentially per `session_id` in arrival order, concurrently across
   * sessions. Payloads without a session id share one sequential lane. A rejection is logged and
   * counted; the payload is not retried.
   */
  onPayload: (payload: ActionsPayload | SummaryPayload) => Promise<void>;
  /** Cap of the first reconnect delay, in ms; the cap doubles per failed attempt. @default 1_000 */
  initialBackoffMs?: number;
  /** Largest reconnect delay cap, in ms; also caps a server's SSE `retry:` hint. @default 30_000 */
  maxBackoffMs?: number;
  /** `equal`: half the cap plus a random half; `full`: anywhere below the cap. @default "equal" */
  jitter?: JitterMode;
  /** Longest `Retry-After` honoured as a floor on the reconnect delay, in ms. @default 600_000 */
  maxRetryAfterMs?: number;
  /** Random source in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
  /**
   * The silence watchdog: a connection that delivers no byte (data, heartbeat or comment) for
   * this long, including while waiting for response headers, is treated as dead and replaced, in
   * ms. Keep it well above the connector's heartbeat interval (about 30 s). @default 90_000
   */
  silenceTimeoutMs?: number;
  /** @deprecated The former name of `silenceTimeoutMs`; setting both to different values is a TypeError. */
  heartbeatTimeoutMs?: number;
  /**
   * A connection that delivered at least one frame (heartbeats count) and stayed open this long
   * is healthy: when it ends, the reconnect backoff starts again from `initialBackoffMs`. A
   * shorter one (a connector that answers, sends a frame and dies) keeps doubling the delay up to
   * `maxBackoffMs`, in ms. @default 60_000
   */
  healthyConnectionMs?: number;
  /**
   * Queued entries of one session from which its new actions payloads are merged into the last
   * queued one (wire indexes and order kept, nothing lost). @default 100
   */
  maxQueuedPerSession?: number;
  /**
   * Queued entries of all sessions (a merged payload counts once) from which new actions payloads
   * are merged into their session's last queued one; beyond it, what merging cannot absorb is
   * dropped, oldest first (counted, logged at a limited rate). @default 10_000
   */
  maxQueuedTotal?: number;
  /** Queued actions of all sessions beyond which the oldest entries are dropped: the memory bound. @default 200_000 */
  maxQueuedActions?: number;
  /** Most actions one merged payload may hold. @default 1_000 */
  maxMergedActions?: number;
  /**
   * Most estimated JSON characters one merged payload may hold, so a merge never builds a batch
   * the consumer refuses as too large. @default 262_144
   */
  maxMergedChars?: number;
  /**
   * Largest SSE line or event, in characters; a larger event is skipped to its end (counted in
   * `stats().oversized`, logged) and the connection kept. (A payload is also held to
   * `parsePayload`'s own 1 MiB limit: a larger one counts as malformed.)
   * @default 2_097_152
   */
  maxEventSize?: number;
  /**
   * How long `stop()` waits for queued payloads to be handed over and their `onPayload` calls to
   * settle before dropping what is left, in ms. @default 10_000
   */
  stopTimeoutMs?: number;
  /**
   * Receives connection changes, and malformed, oversized and unknown frames and drops (these
   * at most one line per kind per 10 s; `stats()` has the exact counts).
   * @default writes JSON lines to stderr
   */
  logger?: ConnectorLogger;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Wall clock in epoch ms, used only to read a `Retry-After` date. @default Date.now */
  now?: () => number;
}

/** Options with every default filled in. */
export interface ResolvedConnectorOptions {
  readonly url: string;
  readonly token: string;
  readonly onPayload: (payload: ActionsPayload | SummaryPayload) => Promise<void>;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly jitter: JitterMode;
  readonly maxRetryAfterMs: number;
  readonly random: () => number;
  readonly silenceTimeoutMs: number;
  readonly healthyConnectionMs: number;
  readonly maxQueuedPerSession: number;
  readonly maxQueuedTotal: number;
  readonly maxQueuedActions: number;
  readonly maxMergedActions: number;
  readonly maxMergedChars: number;
  readonly maxEventSize: number;
  readonly stopTimeoutMs: number;
  readonly logger: ConnectorLogger;
  readonly fetch: typeof fetch;
  readonly now: () => number;
}

function checkUrl(value: unknown): string {
  if (typeof value !== "string" || !URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new TypeError(`Expected \`url\` to be an http(s) URL, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`);
  }
  return value;
}

const DEFAULTS = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  jitter: "equal" as JitterMode,
  maxRetryAfterMs: 600_000,
  silenceTimeoutMs: 90_000,
  healthyConnectionMs: 60_000,
  maxQueuedPerSession: 100,
  maxQueuedTotal: 10_000,
  maxQueuedActions: 200_000,
  maxMergedActions: 1_000,
  maxMergedChars: 262_144,
  maxEventSize: 2 * 1024 * 1024,
  stopTimeoutMs: 10_000,
};

/** Fills defaults and rejects bad values with a TypeError that names the option. */
export function resolveConnectorOptions(options: ConnectorStreamOptions): ResolvedConnectorOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Expected connector options to be an object, got ${options === null ? "null" : typeof options}`);
  }
  const given = withoutUndefined(options);
  if (given.heartbeatTimeoutMs !== undefined) {
    if (given.silenceTimeoutMs !== undefined && given.silenceTimeoutMs !== given.heartbeatTimeoutMs) {
      throw new TypeError(`Expected \`silenceTimeoutMs\` (${String(given.silenceTimeoutMs)}) and its former name \`heartbeatTimeoutMs\` (${String(given.heartbeatTimeoutMs)}) to agree`);
    }
    given.silenceTimeoutMs = given.heartbeatTimeoutMs;
  }
  const o = {
    ...DEFAULTS,
    ...given,
  };
  if (typeof o.token !== "string" || o.token === "") throw new TypeError("Expected `token` to be a non-empty string");
  if (o.jitter !== "full" && o.jitter !== "equal") throw new TypeError(`Expected \`jitter\` to be "full" or "equal", got ${String(o.jitter)}`);
  const initialBackoffMs = checkNumber("initialBackoffMs", o.initialBackoffMs, 1);
  const maxBackoffMs = checkNumber("maxBackoffMs", o.maxBackoffMs, 1);
  if (maxBackoffMs < initialBackoffMs) {
    throw new TypeError(`Expected \`maxBackoffMs\` (${maxBackoffMs}) to be >= \`initialBackoffMs\` (${initialBackoffMs})`);
  }
  return {
    url: checkUrl(o.url),
    token: o.token,
    onPayload: checkFunction("onPayload", o.onPayload),
    initialBackoffMs,
    maxBackoffMs,
    jitter: o.jitter,
    maxRetryAfterMs: checkNumber("maxRetryAfterMs", o.maxRetryAfterMs, 0),
    random: checkFunction("random", o.random ?? Math.random),
    silenceTimeoutMs: checkNumber("silenceTimeoutMs", o.silenceTimeoutMs, 1),
    healthyConnectionMs: checkNumber("healthyConnectionMs", o.healthyConnectionMs, 0),
    maxQueuedPerSession: checkNumber("maxQueuedPerSession", o.maxQueuedPerSession, 1, true, Number.MAX_SAFE_INTEGER),
    maxQueuedTotal: checkNumber("maxQueuedTotal", o.maxQueuedTotal, 1, true, Number.MAX_SAFE_INTEGER),
    maxQueuedActions: checkNumber("maxQueuedActions", o.maxQueuedActions, 1, true, Number.MAX_SAFE_INTEGER),
    maxMergedActions: checkNumber("maxMergedActions", o.maxMergedActions, 1, true, Number.MAX_SAFE_INTEGER),
    maxMergedChars: checkNumber("maxMergedChars", o.maxMergedChars, 1, true, Number.MAX_SAFE_INTEGER),
    maxEventSize: checkNumber("maxEventSize", o.maxEventSize, 1, true, Number.MAX_SAFE_INTEGER),
    stopTimeoutMs: checkNumber("stopTimeoutMs", o.stopTimeoutMs, 0),
    logger: o.logger ?? stderrLogger,
    fetch: checkFunction("fetch", o.fetch ?? globalThis.fetch),
    now: checkFunction("now", o.now ?? Date.now),
  };
}

// `{ maxBackoffMs: undefined }` means "the default", not "no value".
function withoutUndefined(options: ConnectorStreamOptions): ConnectorStreamOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as unknown as ConnectorStreamOptions;
}
