/**
 * An incremental Server-Sent Events parser following the WHATWG "event stream interpretation"
 * rules: it takes the body in arbitrary chunks and returns whole events as they complete.
 */
import { SseEventTooLargeError } from "./errors.js";

/** One dispatched server-sent event. */
export interface SseEvent {
  /** The `event:` field, or `"message"` when the block named none. */
  readonly type: string;
  /** The block's `data:` lines joined with `"\n"`; `""` for a dataless block (see `dispatchDataless`). */
  readonly data: string;
  /** The last `id:` seen in the stream so far, not only in this block (WHATWG keeps it). */
  readonly lastEventId: string;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /**
   * Largest pending line plus buffered event, in UTF-16 code units of decoded text. Without a
   * bound a server that never sends a newline would grow memory forever; crossing it throws
   * {@link SseEventTooLargeError}.
   * @default 2_097_152 (2 MiB)
   */
  maxEventSize?: number;
  /**
   * Also dispatch a block that set `event:` but had no `data:` line (with `data` `""`). Browsers
   * drop such blocks; a connector heartbeat may be exactly `event: heartbeat` and a blank line.
   * @default false
   */
  dispatchDataless?: boolean;
}

const DEFAULT_MAX_EVENT_SIZE = 2 * 1024 * 1024;
const DIGITS = /^[0-9]+$/;

/**
 * Feed it chunks with {@link SseParser.push}; each call returns the events that chunk completed.
 * An event still open when the stream ends is discarded, as the spec requires.
 */
export class SseParser {
  readonly #maxEventSize: number;
  readonly #dispatchDataless: boolean;
  // ignoreBOM keeps the BOM in the output so exactly one leading BOM is stripped, by us.
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #started = false;
  #pending = "";
  // A chunk ended on CR: a LF opening the next chunk belongs to the same line break.
  #skipLeadingLf = false;
  #dataLines: string[] = [];
  #dataSize = 0;
  #eventType = "";
  #lastEventId = "";
  #retryMs: number | undefined;

  constructor(options: SseParserOptions = {}) {
    const max = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TypeError(`Expected \`maxEventSize\` to be an integer >= 1, got ${String(max)}`);
    }
    this.#maxEventSize = max;
    this.#dispatchDataless = options.dispatchDataless === true;
  }

  /** The last `id:` value seen (`""` before any): what `Last-Event-ID` should carry. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** The last valid `retry:` value, in ms; `undefined` until the server sends one. */
  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  /**
   * Parses the next chunk: bytes (split anywhere, even inside a UTF-8 sequence) or text.
   * @throws SseEventTooLargeError when a line or event crosses `maxEventSize`.
   */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    this.#consume(text, events);
    return events;
  }

  /** Signals the end of the stream; an unterminated line or event is dropped. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    this.#consume(this.#decoder.decode(), events);
    this.#pending = "";
    this.#resetEvent();
    return events;
  }

  #consume(input: string, events: SseEvent[]): void {
    let text = input;
    if (text === "") return;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    if (this.#skipLeadingLf) {
      this.#skipLeadingLf = false;
      if (text.charCodeAt(0) === 0x0a) start = 1;
    }
    const lineBreak = /[\r\n]/g; // per call: a shared /g regex would share its lastIndex
    lineBreak.lastIndex = start;
    for (let m = lineBreak.exec(text); m !== null; m = lineBreak.exec(text)) {
      const line = this.#pending + text.slice(start, m.index);
      this.#pending = "";
      start = m.index + 1;
      if (m[0] === "\r") {
        if (start === text.length) this.#skipLeadingLf = true;
        else if (text.charCodeAt(start) === 0x0a) start++;
      }
      lineBreak.lastIndex = start;
      this.#line(line, events);
    }
    if (start < text.length) {
      this.#pending += text.slice(start);
      this.#checkSize(this.#pending.length);
    }
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === "") {
      this.#dispatch(events);
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // a comment: only keeps the connection alive
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    this.#field(field, value);
  }

  #field(field: string, value: string): void {
    switch (field) {
      case "data":
        this.#dataLines.push(value);
        this.#dataSize += value.length + 1;
        this.#checkSize(0);
        break;
      case "event":
        this.#eventType = value;
        this.#checkSize(0);
        break;
      case "id":
        // WHATWG: an id with NUL is ignored, so it can never reach a header.
        if (!value.includes("\0")) this.#lastEventId = value;
        break;
      case "retry":
        if (DIGITS.test(value)) this.#retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored by the spec.
    }
  }

  #dispatch(events: SseEvent[]): void {
    const hasData = this.#dataLines.length > 0;
    if (hasData || (this.#dispatchDataless && this.#eventType !== "")) {
      events.push({
        type: this.#eventType === "" ? "message" : this.#eventType,
        data: this.#dataLines.join("\n"),
        lastEventId: this.#lastEventId,
      });
    }
    this.#resetEvent();
  }

  #resetEvent(): void {
    this.#dataLines = [];
    this.#dataSize = 0;
    this.#eventType = "";
  }

  #checkSize(pending: number): void {
    if (pending + this.#dataSize + this.#eventType.length > this.#maxEventSize) {
      throw new SseEventTooLargeError(this.#maxEventSize);
    }
  }
}
