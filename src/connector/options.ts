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
   * A connection that delivers no byte (data, heartbeat or comment) for this long, including while
   * waiting for response headers, is treated as dead and replaced, in ms. @default 90_000
   */
  heartbeatTimeoutMs?: number;
  /** Queued payloads of one session before its queued actions are merged into one. @default 100 */
  maxQueuedPerSession?: number;
  /** Queued payloads of all sessions before the oldest are dropped (logged, counted). @default 10_000 */
  maxQueuedTotal?: number;
  /**
   * Largest SSE line or event, in characters; a larger one drops the connection. (A payload is
   * also held to `parsePayload`'s own 1 MiB limit: a larger one counts as malformed.)
   * @default 2_097_152
   */
  maxEventSize?: number;
  /**
   * How long `stop()` waits for queued payloads to be handed over and their `onPayload` calls to
   * settle before dropping what is left, in ms. @default 10_000
   */
  stopTimeoutMs?: number;
  /** Receives connection changes, malformed frames, drops. @default writes JSON lines to stderr */
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
  readonly heartbeatTimeoutMs: number;
  readonly maxQueuedPerSession: number;
  readonly maxQueuedTotal: number;
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
  heartbeatTimeoutMs: 90_000,
  maxQueuedPerSession: 100,
  maxQueuedTotal: 10_000,
  maxEventSize: 2 * 1024 * 1024,
  stopTimeoutMs: 10_000,
};

/** Fills defaults and rejects bad values with a TypeError that names the option. */
export function resolveConnectorOptions(options: ConnectorStreamOptions): ResolvedConnectorOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Expected connector options to be an object, got ${options === null ? "null" : typeof options}`);
  }
  const o = {
    ...DEFAULTS,
    ...withoutUndefined(options),
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
    heartbeatTimeoutMs: checkNumber("heartbeatTimeoutMs", o.heartbeatTimeoutMs, 1),
    maxQueuedPerSession: checkNumber("maxQueuedPerSession", o.maxQueuedPerSession, 1, true, Number.MAX_SAFE_INTEGER),
    maxQueuedTotal: checkNumber("maxQueuedTotal", o.maxQueuedTotal, 1, true, Number.MAX_SAFE_INTEGER),
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
