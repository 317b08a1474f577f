/** The connector's SSE stream (pull mode): a reconnecting client and the parser under it. */
export { ConnectorStream } from "./connector-stream.js";
export type { ConnectorStreamStats } from "./connector-stream.js";
export type { ConnectorLogger, ConnectorStreamOptions } from "./options.js";
export { ConnectorFatalError, SseEventTooLargeError } from "./errors.js";
export { SseParser } from "./sse-parser.js";
export type { SseEvent, SseParserOptions } from "./sse-parser.js";
export type { JitterMode } from "./backoff.js";
