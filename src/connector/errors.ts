/**
 * The connector stream's two errors. They extend `Error` rather than the library's
 * `AutoplayError` because its `ErrorCode` union lives outside this folder; each still carries a
 * stable `code` so callers can branch on it.
 */

/**
 * The connector refused the stream for good (401, 403 or 404: a wrong token, a revoked product,
 * a mistyped product id). Retrying would only hammer it, so the stream stops and its `done`
 * promise rejects with this error.
 */
export class ConnectorFatalError extends Error {
  /** Stable machine-readable code. */
  readonly code = "CONNECTOR_FATAL" as const;
  /** The HTTP status the connector answered. */
  readonly status: number;

  constructor(status: number, url: string) {
    super(`connector refused the stream at ${url} with HTTP ${status}; not reconnecting`);
    this.name = "ConnectorFatalError";
    this.status = status;
  }
}

/**
 * One SSE line or event grew past the parser's `maxEventSize`: the server is broken or hostile.
 * The parser that threw is left in an undefined state and must be discarded.
 */
export class SseEventTooLargeError extends Error {
  /** Stable machine-readable code. */
  readonly code = "SSE_EVENT_TOO_LARGE" as const;
  /** The limit that was crossed, in UTF-16 code units of decoded text. */
  readonly limit: number;

  constructor(limit: number) {
    super(`server-sent event larger than ${limit} characters`);
    this.name = "SseEventTooLargeError";
    this.limit = limit;
  }
}

/** A log-friendly one-liner for any thrown value, with undici's `cause` (e.g. ECONNREFUSED). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return `${error.name}: ${error.message}${detail}`;
}
