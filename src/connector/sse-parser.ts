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
  /** The event's last event ID: the last `id:` field seen so far, in this block or an earlier one (WHATWG keeps it). */
  readonly lastEventId: string;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /**
   * Largest pending line plus buffered event, in UTF-16 code units of decoded text. Without a
   * bound a server that never sends a newline would grow memory forever; crossing it throws
   * {@link SseEventTooLargeError}, or skips the event with `skipOversized`.
   * @default 2_097_152 (2 MiB)
   */
  maxEventSize?: number;
  /**
   * Skip an event that crosses `maxEventSize` instead of throwing: its text is discarded up to
   * the blank line that ends it (memory stays bounded), its fields (`id:` and `retry:` included)
   * are ignored, nothing is dispatched, and {@link SseParser.oversized} counts it. The events
   * after it are parsed as usual.
   * @default false
   */
  skipOversized?: boolean;
  /**
   * The last event ID to start from: the one a previous connection left (browsers carry it over
   * a reconnect the same way), so a block without `id:` does not clear it.
   * @default ""
   */
  lastEventId?: string;
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
  readonly #skipOversized: boolean;
  // ignoreBOM keeps the BOM in the output so exactly one leading BOM is stripped, by us.
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #started = false;
  #pending = "";
  // A chunk ended on CR: a LF opening the next chunk belongs to the same line break.
  #skipLeadingLf = false;
  #dataLines: string[] = [];
  #dataSize = 0;
  #eventType = "";
  // WHATWG's "last event ID buffer" (set by `id:`) and the event source's last event ID string
  // (set from the buffer when a block is dispatched): an id in a block that never ends is not applied.
  #idBuffer: string;
  #lastEventId: string;
  #retryMs: number | undefined;
  // Inside an oversized event: ignore lines until the blank one that ends it.
  #skippingEvent = false;
  // Inside an oversized line: discard text until its line break.
  #skippingLine = false;
  #oversized = 0;

  constructor(options: SseParserOptions = {}) {
    const max = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TypeError(`Expected \`maxEventSize\` to be an integer >= 1, got ${String(max)}`);
    }
    this.#maxEventSize = max;
    this.#dispatchDataless = options.dispatchDataless === true;
    this.#skipOversized = options.skipOversized === true;
    const initial = options.lastEventId ?? "";
    if (typeof initial !== "string") throw new TypeError(`Expected \`lastEventId\` to be a string, got ${typeof initial}`);
    this.#idBuffer = this.#lastEventId = initial;
  }

  /**
   * The last event ID as of the last dispatched block (`""` before any, or after an empty `id:`
   * was dispatched): what `Last-Event-ID` should carry. An `id:` only counts once the blank line
   * ending its block arrived, even when that block had no data (WHATWG).
   */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Events skipped for crossing `maxEventSize` (with `skipOversized`). */
  get oversized(): number {
    return this.#oversized;
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
    this.#skippingLine = this.#skippingEvent = false;
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
      // The rest of an oversized line ends here; it is not a line of its own.
      const line = this.#skippingLine ? undefined : this.#pending + text.slice(start, m.index);
      this.#skippingLine = false;
      this.#pending = "";
      start = m.index + 1;
      if (m[0] === "\r") {
        if (start === text.length) this.#skipLeadingLf = true;
        else if (text.charCodeAt(start) === 0x0a) start++;
      }
      lineBreak.lastIndex = start;
      if (line !== undefined) this.#line(line, events);
    }
    if (start < text.length && !this.#skippingLine) {
      this.#pending += text.slice(start);
      if (this.#tooLarge(this.#pending.length)) this.#oversize(true);
    }
  }

  #line(line: string, events: SseEvent[]): void {
    if (this.#skippingEvent) {
      if (line === "") {
        this.#skippingEvent = false;
        this.#resetEvent();
      }
      return;
    }
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
        if (this.#tooLarge(0)) this.#oversize(false);
        break;
      case "event":
        this.#eventType = value;
        if (this.#tooLarge(0)) this.#oversize(false);
        break;
      case "id":
        // WHATWG: an id with NUL is ignored, so it can never reach a header.
        if (!value.includes("\0")) this.#idBuffer = value;
        break;
      case "retry":
        if (DIGITS.test(value)) this.#retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored by the spec.
    }
  }

  #dispatch(events: SseEvent[]): void {
    this.#lastEventId = this.#idBuffer;
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

  #tooLarge(pending: number): boolean {
    return pending + this.#dataSize + this.#eventType.length > this.#maxEventSize;
  }

  /** Throws, or (with `skipOversized`) starts discarding the event; `inLine`: mid-line, so its rest goes too. */
  #oversize(inLine: boolean): void {
    if (!this.#skipOversized) throw new SseEventTooLargeError(this.#maxEventSize);
    this.#oversized++;
    this.#pending = "";
    this.#skippingLine = inLine;
    this.#skippingEvent = true;
    // The block's own `id:` goes with it: an event that is never dispatched sets no id.
    this.#idBuffer = this.#lastEventId;
    this.#resetEvent();
  }
}
