import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SseEventTooLargeError } from "./errors.js";
import { SseParser } from "./sse-parser.js";
import type { SseEvent } from "./sse-parser.js";

const utf8 = new TextEncoder();

function parseAll(chunks: readonly (string | Uint8Array)[], options?: ConstructorParameters<typeof SseParser>[0]): SseEvent[] {
  const parser = new SseParser(options);
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return [...events, ...parser.end()];
}

const ev = (data: string, type = "message", lastEventId = ""): SseEvent => ({ type, data, lastEventId });

describe("SseParser", () => {
  it("reads event, data and id fields and dispatches on a blank line", () => {
    expect(parseAll(["event: update\nid: 7\ndata: hello\n\n"])).toEqual([ev("hello", "update", "7")]);
  });

  it("joins multi-line data with \\n and strips exactly one leading space", () => {
    expect(parseAll(["data: a\ndata:b\ndata:  c\ndata\n\n"])).toEqual([ev("a\nb\n c\n")]);
  });

  it("ignores comments, unknown fields and blocks without data", () => {
    expect(parseAll([": keep-alive\nfoo: bar\n\nevent: lonely\n\n\n\ndata: x\n\n"])).toEqual([ev("x")]);
  });

  it("dispatches an empty data line as an empty event", () => {
    expect(parseAll(["data:\n\n"])).toEqual([ev("")]);
  });

  it("resets the event type after each dispatch, but keeps the last id", () => {
    expect(parseAll(["event: a\nid: 1\ndata: x\n\ndata: y\n\n"])).toEqual([ev("x", "a", "1"), ev("y", "message", "1")]);
  });

  it("ignores an id containing NUL and a retry that is not all digits", () => {
    const parser = new SseParser();
    expect(parser.push("id: ok\nid: bad\0id\nretry: 12x\nretry: 2500\nretry: -1\ndata: x\n\n")).toEqual([ev("x", "message", "ok")]);
    expect(parser.lastEventId).toBe("ok");
    expect(parser.retryMs).toBe(2500);
  });

  it("an empty id resets the last event id", () => {
    expect(parseAll(["id: 1\ndata: a\n\nid\ndata: b\n\n"])).toEqual([ev("a", "message", "1"), ev("b")]);
  });

  it("drops an event left open at the end of the stream", () => {
    expect(parseAll(["data: done\n\ndata: half\n", "data: line without end"])).toEqual([ev("done")]);
  });

  it("treats CR LF split across chunks as one line break", () => {
    expect(parseAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"])).toEqual([ev("a\nb")]);
  });

  it("treats a lone CR at a chunk end as a line break", () => {
    expect(parseAll(["data: a\r", "\r"])).toEqual([ev("a")]);
  });

  it("decodes a UTF-8 character split across chunks", () => {
    const bytes = utf8.encode("data: é😀\n\n");
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(parseAll(chunks)).toEqual([ev("é😀")]);
  });

  it("ignores one leading BOM, and only one", () => {
    expect(parseAll([Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf), "data: x\n\n"])).toEqual([ev("x")]);
    // A second BOM becomes part of the field name, so the line is an unknown field.
    expect(parseAll(["\uFEFF\uFEFFdata: x\n\ndata: y\n\n"])).toEqual([ev("y")]);
  });

  it("dispatches dataless typed blocks only when asked", () => {
    const stream = "event: heartbeat\n\n\n: hi\n\n";
    expect(parseAll([stream])).toEqual([]);
    expect(parseAll([stream], { dispatchDataless: true })).toEqual([ev("", "heartbeat")]);
  });

  it("throws SseEventTooLargeError for a line that never ends", () => {
    const parser = new SseParser({ maxEventSize: 100 });
    parser.push("data: " + "x".repeat(50));
    expect(() => parser.push("x".repeat(60))).toThrow(SseEventTooLargeError);
  });

  it("throws SseEventTooLargeError for an event of many small lines", () => {
    const parser = new SseParser({ maxEventSize: 100 });
    expect(() => parser.push("data: 0123456789\n".repeat(20))).toThrow(SseEventTooLargeError);
  });

  it("accepts events up to the limit, which applies per event", () => {
    const line = `data: ${"x".repeat(90)}\n\n`;
    expect(parseAll([line.repeat(50)], { maxEventSize: 100 })).toHaveLength(50);
  });

  it("skipOversized: skips an oversized line to the end of its event and keeps parsing", () => {
    const parser = new SseParser({ maxEventSize: 100, skipOversized: true });
    const events = [
      ...parser.push("data: ok1\n\nid: big\nevent: huge\ndata: " + "x".repeat(60)),
      ...parser.push("x".repeat(500)), // still the same line: discarded, not buffered
      ...parser.push("x\ndata: more of it\nretry: 1\n\ndata: ok2\n\n"),
    ];
    expect(events).toEqual([ev("ok1"), ev("ok2")]);
    expect(parser.oversized).toBe(1);
    // The skipped event's fields are ignored, id and retry included.
    expect(parser.lastEventId).toBe("");
    expect(parser.retryMs).toBeUndefined();
  });

  it("skipOversized: skips an event of many small lines, each oversized event counted once", () => {
    const parser = new SseParser({ maxEventSize: 100, skipOversized: true });
    const big = "data: 0123456789\n".repeat(20) + "\n";
    expect(parser.push(big + "data: a\n\n" + big + big + "data: b\n\n")).toEqual([ev("a"), ev("b")]);
    expect(parser.oversized).toBe(3);
  });

  it("the last event id is the dispatched one: an id in an unfinished block does not count", () => {
    const parser = new SseParser();
    parser.push("id: 1\ndata: a\n\nid: 2\ndata: b\n");
    expect(parser.lastEventId).toBe("1");
    parser.push("\n");
    expect(parser.lastEventId).toBe("2");
    // A dataless block still dispatches its id; an empty id resets it.
    parser.push("id: 3\n\n");
    expect(parser.lastEventId).toBe("3");
    parser.push("id\n\n");
    expect(parser.lastEventId).toBe("");
  });

  it("starts from a given last event id, kept by blocks without an id", () => {
    const parser = new SseParser({ lastEventId: "41" });
    expect(parser.lastEventId).toBe("41");
    expect(parser.push("data: x\n\n")).toEqual([ev("x", "message", "41")]);
    expect(parser.lastEventId).toBe("41");
  });

  it("rejects an invalid maxEventSize naming the option", () => {
    expect(() => new SseParser({ maxEventSize: 0 })).toThrow(/maxEventSize/);
  });
});

// ---- properties ----------------------------------------------------------------------------

interface Block {
  type: string | null;
  id: string | null;
  comment: boolean;
  data: string[];
}

// Any Unicode text without line breaks; NUL is excluded from ids only (it voids them).
const lineText = fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, "_"));
const block: fc.Arbitrary<Block> = fc.record({
  type: fc.option(lineText.filter((s) => s !== ""), { nil: null }),
  id: fc.option(lineText.map((s) => s.replace(/\0/g, "_")), { nil: null }),
  comment: fc.boolean(),
  data: fc.array(lineText, { minLength: 1, maxLength: 4 }),
});
const blocks = fc.array(block, { maxLength: 8 });

function lines(list: readonly Block[]): string[] {
  const out: string[] = [];
  for (const b of list) {
    if (b.comment) out.push(": note");
    if (b.type !== null) out.push(`event: ${b.type}`);
    if (b.id !== null) out.push(`id: ${b.id}`);
    for (const d of b.data) out.push(`data: ${d}`);
    out.push("");
  }
  return out;
}

function expected(list: readonly Block[]): SseEvent[] {
  let lastId = "";
  return list.map((b) => {
    if (b.id !== null) lastId = b.id;
    return ev(b.data.join("\n"), b.type ?? "message", lastId);
  });
}

// A CR followed by an empty line ended by LF would read as one CRLF: the generator avoids it.
function join(all: readonly string[], endings: readonly string[]): string {
  let text = "";
  let previous = "";
  all.forEach((line, i) => {
    let end = endings[i % endings.length] ?? "\n";
    if (previous === "\r" && line === "" && end === "\n") end = "\r\n";
    text += line + end;
    previous = end;
  });
  return text;
}

describe("SseParser properties", () => {
  it("LF, CRLF and CR streams (and any mix) yield the model's events", () => {
    const ending = fc.constantFrom("\n", "\r\n", "\r");
    fc.assert(
      fc.property(blocks, ending, fc.array(ending, { minLength: 1 }), fc.boolean(), (list, uniform, mixed, bom) => {
        const prefix = bom ? "\uFEFF" : "";
        const want = expected(list);
        expect(parseAll([prefix + join(lines(list), [uniform])])).toEqual(want);
        expect(parseAll([prefix + join(lines(list), mixed)])).toEqual(want);
      }),
    );
  });

  it("any split of the bytes into chunks yields the same events", () => {
    const ending = fc.constantFrom("\n", "\r\n", "\r");
    fc.assert(
      fc.property(blocks, ending, fc.array(fc.nat(), { maxLength: 20 }), (list, eol, cuts) => {
        const bytes = utf8.encode("\uFEFF" + join(lines(list), [eol]));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(from, p));
          from = p;
        }
        expect(parseAll(chunks)).toEqual(expected(list));
      }),
    );
  });
});
