import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { PayloadError } from "../errors.js";
import { mergeActionsPayloads } from "./merge.js";
import { PayloadFieldError, parseActionsPayload, parsePayload, parseSlimAction, parseSummaryPayload, wasDefaulted } from "./parse.js";

const wireAction = {
  index: 0,
  type: "click",
  title: "Billing",
  description: "Clicked Upgrade",
  canonical_url: "https://app.example.com/billing",
  raw_url: "https://app.example.com/billing?x=1",
  timestamp_start: 1718000001.25,
  timestamp_end: 1718000001.5,
};

const wirePayload = {
  type: "actions",
  product_id: "prod-1",
  session_id: "s-42",
  user_id: "u-1",
  email: "a@example.com",
  actions: [wireAction],
  count: 1,
  forwarded_at: 1718000002,
  conversation_id: null,
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("parseActionsPayload", () => {
  it("reads a well-formed payload from a value, a string and a Buffer alike", () => {
    const expected = { ...wirePayload, actions: [{ ...wireAction }] };
    const text = JSON.stringify(wirePayload);
    expect(parseActionsPayload(wirePayload)).toEqual(expected);
    expect(parseActionsPayload(text)).toEqual(expected);
    expect(parseActionsPayload(Buffer.from(text, "utf8"))).toEqual(expected);
    expect(parseActionsPayload(new TextEncoder().encode(text))).toEqual(expected);
  });

  it("returns fresh objects and never mutates its input", () => {
    const input = structuredClone(wirePayload);
    const parsed = parseActionsPayload(input);
    expect(parsed).not.toBe(input);
    expect(parsed.actions).not.toBe(input.actions);
    expect(parsed.actions[0]).not.toBe(input.actions[0]);
    expect(input).toEqual(wirePayload);
  });

  it("falls back to empty values for missing, null and empty fields", () => {
    expect(parseActionsPayload({ actions: [{}], session_id: "", user_id: null })).toEqual({
      type: "actions",
      product_id: "",
      session_id: null,
      user_id: null,
      email: null,
      actions: [
        { index: 0, type: "", title: "", description: "", canonical_url: "", raw_url: "", timestamp_start: 0, timestamp_end: 0 },
      ],
      count: 1,
      forwarded_at: 0,
      conversation_id: null,
    });
  });

  it("coerces numeric strings, folds NaN and ±Infinity to 0, and truncates integer fields", () => {
    const p = parseActionsPayload({
      forwarded_at: "1718000002.5",
      actions: [{ index: "3.9", timestamp_start: "abc", timestamp_end: " 12 " }, { timestamp_start: "Infinity", index: -0 }],
    });
    expect(p.forwarded_at).toBe(1718000002.5);
    expect(p.actions[0]).toMatchObject({ index: 3, timestamp_start: 0, timestamp_end: 12 });
    expect(p.actions[1]).toMatchObject({ index: 0, timestamp_start: 0 });
    expect(Object.is(p.actions[1]!.index, 0)).toBe(true);
    expect(parseActionsPayload({ forwarded_at: -Infinity }).forwarded_at).toBe(0);
    expect(parseActionsPayload({ forwarded_at: Number.NaN }).forwarded_at).toBe(0);
  });

  it("refuses a value that cannot be coerced with a PayloadFieldError naming its path", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ count: { n: 1 } }, "count"],
      [{ count: [1] }, "count"],
      [{ forwarded_at: true }, "forwarded_at"],
      [{ forwarded_at: {} }, "forwarded_at"],
      [{ user_id: { id: 1 } }, "user_id"],
      [{ email: ["x"] }, "email"],
      [{ email: false }, "email"],
      [{ session_id: { a: 1 } }, "session_id"],
      [{ product_id: [] }, "product_id"],
      [{ actions: [wireAction, wireAction, wireAction, { ...wireAction, timestamp_start: [1] }] }, "actions[3].timestamp_start"],
      [{ actions: [{ type: { a: 1 } }] }, "actions[0].type"],
      [{ actions: [{ title: false }] }, "actions[0].title"],
      [{ actions: [wireAction, { index: {} }] }, "actions[1].index"],
      [{ actions: [{ conversation_id: ["c"] }] }, "actions[0].conversation_id"],
    ];
    for (const [body, field] of cases) {
      const err = thrown(() => parseActionsPayload(body));
      expect(err).toBeInstanceOf(PayloadFieldError);
      expect(err).toBeInstanceOf(PayloadError);
      expect([field, (err as PayloadFieldError).field]).toEqual([field, field]);
      expect((err as PayloadError).reason).toMatch(new RegExp(`^${field.replace(/[[\]]/g, "\\$&")} must be `));
    }
    expect(thrown(() => parseSummaryPayload({ replaces: {} }))).toMatchObject({ field: "replaces" });
    expect(thrown(() => parseSlimAction({ description: {} }))).toMatchObject({ field: "action.description" });
  });

  it("refuses a wrong container: actions not an array, or an action item that is an array", () => {
    for (const actions of ["x", "", 3, { 0: wireAction }, null, true]) {
      const err = thrown(() => parseActionsPayload({ actions }));
      expect(err).toMatchObject({ field: "actions", code: "PAYLOAD_INVALID" });
    }
    expect(thrown(() => parseActionsPayload({ actions: [wireAction, [wireAction]] }))).toMatchObject({ field: "actions[1]" });
    expect(parseActionsPayload({}).actions).toEqual([]);
  });

  it("still coerces numbers into text fields and leaves other text alone", () => {
    const p = parseActionsPayload({ product_id: 42, user_id: 7, actions: [{ description: 7, title: "t" }] });
    expect(p).toMatchObject({ product_id: "42", user_id: "7" });
    expect(p.actions[0]).toMatchObject({ description: "7", title: "t" });
    expect(JSON.stringify(p)).not.toContain("[object Object]");
  });

  it("tells which actions had their index or timestamp defaulted, through a second parse and a merge", () => {
    const p = parseActionsPayload({ actions: [wireAction, { description: "no index" }, { ...wireAction, timestamp_start: "abc" }] });
    expect(p.actions.map((a) => wasDefaulted(a))).toEqual([false, true, true]);
    const again = parseActionsPayload(p);
    expect(again.actions.map((a) => wasDefaulted(a))).toEqual([false, true, true]);
    expect(mergeActionsPayloads([again], { reindex: false }).actions.map((a) => wasDefaulted(a))).toEqual([false, true, true]);
  });

  it("keeps optional action ids only when present, as string or null", () => {
    const [withIds, without] = parseActionsPayload({
      actions: [{ session_id: "s", user_id: "", email: null, conversation_id: 9 }, {}],
    }).actions;
    expect(withIds).toMatchObject({ session_id: "s", user_id: null, email: null, conversation_id: "9" });
    expect(Object.keys(without!)).not.toContain("session_id");
    expect(Object.keys(without!)).toHaveLength(8);
    const decoded = parseSlimAction({ session_id: undefined, email: null });
    expect(Object.keys(decoded!)).not.toContain("session_id");
    expect(decoded!.email).toBeNull();
  });

  it("drops non-object action items, not the batch, and corrects count with a warning", () => {
    const warnings: string[] = [];
    const p = parseActionsPayload(
      { session_id: "s-1", count: 5, actions: [1, null, "x", true, wireAction, { ...wireAction, index: 1 }] },
      { onWarning: (m) => warnings.push(m) },
    );
    expect(p.actions.map((a) => a.index)).toEqual([0, 1]);
    expect(p.count).toBe(2);
    expect(warnings).toHaveLength(2);
    expect(warnings.join("\n")).toMatch(/dropped 4/);
    expect(warnings.join("\n")).toMatch(/count 5 disagrees with 2 actions/);
    expect(warnings.join("\n")).toContain("s-1");
  });

  it("corrects a missing count silently and an agreeing count needs no warning", () => {
    const warnings: string[] = [];
    const onWarning = (m: string): void => void warnings.push(m);
    expect(parseActionsPayload({ actions: [wireAction] }, { onWarning }).count).toBe(1);
    expect(parseActionsPayload({ actions: [wireAction], count: "1" }, { onWarning }).count).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("ignores a warning sink that throws", () => {
    const onWarning = (): void => {
      throw new Error("sink down");
    };
    expect(parseActionsPayload({ count: 3 }, { onWarning }).count).toBe(0);
  });

  it("accepts a missing type and rejects any other type", () => {
    expect(parseActionsPayload({ actions: [] }).type).toBe("actions");
    expect(parseActionsPayload({ type: null }).type).toBe("actions");
    for (const type of ["summary", "heartbeat", 5, {}]) {
      const err = thrown(() => parseActionsPayload({ type }));
      expect(err).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).code).toBe("PAYLOAD_INVALID");
      expect((err as PayloadError).reason).toMatch(/expected type "actions"/);
    }
  });

  it("rejects bodies that are not JSON objects with a readable reason", () => {
    const cases: [unknown, RegExp][] = [
      ["[1,2]", /JSON object, got an array/],
      ["42", /got a number/],
      ["null", /got null/],
      ['"text"', /got a string/],
      ["{not json", /not valid JSON/],
      ["", /not valid JSON/],
      [Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
      [[], /got an array/],
      [undefined, /got nothing/],
      [new Date(0), /non-plain object/],
      [12, /got a number/],
    ];
    for (const [raw, reason] of cases) {
      const err = thrown(() => parseActionsPayload(raw));
      expect(err).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).code).toBe("PAYLOAD_INVALID");
      expect((err as PayloadError).reason).toMatch(reason);
    }
  });

  it("accepts a UTF-8 byte-order mark in string and Buffer input", () => {
    const text = "\uFEFF" + JSON.stringify(wirePayload);
    expect(parseActionsPayload(text).session_id).toBe("s-42");
    expect(parseActionsPayload(Buffer.from(text, "utf8")).session_id).toBe("s-42");
  });

  it("rejects a body over maxBytes as too large, measuring UTF-8 bytes", () => {
    const huge = JSON.stringify({ ...wirePayload, product_id: "x".repeat(1_048_576) });
    for (const raw of [huge, Buffer.from(huge), JSON.parse(huge) as unknown]) {
      const err = thrown(() => parseActionsPayload(raw));
      expect(err).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).code).toBe("PAYLOAD_TOO_LARGE");
    }
    // 4 code units of "€" are 12 UTF-8 bytes: measured in bytes, not characters.
    const euros = JSON.stringify({ product_id: "€€€€" });
    expect(() => parseActionsPayload(euros, { maxBytes: euros.length + 4 })).toThrow(PayloadError);
    expect(parseActionsPayload(euros, { maxBytes: euros.length + 8 }).product_id).toBe("€€€€");
  });

  it("rejects deep nesting with a PayloadError, never a RangeError", () => {
    const depth = 100_000;
    const text = `{"actions":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const err = thrown(() => parseActionsPayload(text, { maxBytes: 10_000_000 }));
    expect(err).toBeInstanceOf(PayloadError);
    expect((err as PayloadError).reason).toMatch(/nested deeper than 32/);

    let value: unknown = {};
    for (let i = 0; i < depth; i++) value = [value];
    expect(() => parseActionsPayload({ actions: value }, { maxBytes: Infinity })).toThrow(PayloadError);
    // Levels count containers: the body is 1, so { a: { b: { c: {} } } } is 4 deep.
    expect(() => parseActionsPayload({ a: { b: { c: {} } } }, { maxDepth: 3 })).toThrow(/deeper than 3/);
    expect(parseActionsPayload({ a: { b: { c: 1 } } }, { maxDepth: 3 }).type).toBe("actions");
  });

  it("rejects a cyclic decoded value instead of looping", () => {
    const cyclic: Record<string, unknown> = { actions: [] };
    (cyclic.actions as unknown[]).push(cyclic);
    expect(() => parseActionsPayload(cyclic)).toThrow(PayloadError);
  });

  it("turns a throwing getter into a PayloadError", () => {
    const body = Object.defineProperty({}, "product_id", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(() => parseActionsPayload(body)).toThrow(PayloadError);
  });

  it("rejects invalid options with a TypeError naming the option", () => {
    expect(() => parseActionsPayload("{}", { maxBytes: -1 })).toThrow(/maxBytes/);
    expect(() => parseActionsPayload("{}", { maxDepth: 0 })).toThrow(/maxDepth/);
    expect(() => parseActionsPayload("{}", { maxDepth: 1.5 })).toThrow(TypeError);
  });

  describe("__proto__ and friends", () => {
    const texts = [
      '{"__proto__":{"polluted":1},"actions":[{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}]}',
      '{"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1},"session_id":"s"}',
    ];

    it("never pollutes prototypes nor copies the keys, from text or decoded values", () => {
      for (const text of texts) {
        for (const raw of [text, Buffer.from(text), JSON.parse(text) as unknown]) {
          const p = parseActionsPayload(raw);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.keys(p)).not.toContain("__proto__");
          expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
          expect(Object.hasOwn(p, "constructor")).toBe(false);
          expect(Object.hasOwn(p, "prototype")).toBe(false);
          for (const a of p.actions) {
            expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
            expect(Object.keys(a)).not.toContain("__proto__");
            expect((a as unknown as Record<string, unknown>).polluted).toBeUndefined();
          }
        }
      }
    });

    it("does not read inherited properties as input", () => {
      const body = Object.create({ session_id: "inherited", type: "summary" }) as object;
      expect(parseActionsPayload(Object.assign(Object.create(null) as object, { actions: [] })).session_id).toBeNull();
      expect(() => parseActionsPayload(body)).toThrow(/non-plain object/);
    });
  });
});

describe("parseSummaryPayload", () => {
  it("reads a summary leniently", () => {
    expect(
      parseSummaryPayload('{"type":"summary","product_id":"p","session_id":"s","summary":"Did X","replaces":"12","forwarded_at":5}'),
    ).toEqual({ type: "summary", product_id: "p", session_id: "s", summary: "Did X", replaces: 12, forwarded_at: 5 });
    expect(parseSummaryPayload({})).toEqual({
      type: "summary",
      product_id: "",
      session_id: null,
      summary: "",
      replaces: 0,
      forwarded_at: 0,
    });
  });

  it("rejects an actions body", () => {
    expect(() => parseSummaryPayload({ type: "actions" })).toThrow(PayloadError);
  });
});

describe("parsePayload", () => {
  it("dispatches on type and ignores unknown types", () => {
    expect(parsePayload(JSON.stringify(wirePayload))?.type).toBe("actions");
    expect(parsePayload({ type: "summary", summary: "s" })?.type).toBe("summary");
    expect(parsePayload({ actions: [] })?.type).toBe("actions");
    expect(parsePayload({ type: "heartbeat" })).toBeNull();
    expect(parsePayload({ type: 3 })).toBeNull();
  });

  it("still rejects a body that is not an object", () => {
    expect(() => parsePayload("[]")).toThrow(PayloadError);
  });

  it("forwards warnings", () => {
    const warnings: string[] = [];
    parsePayload({ count: 2 }, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });
});

describe("parseSlimAction", () => {
  it("returns null for non-objects and a fresh action otherwise", () => {
    for (const raw of [null, undefined, 1, "x", [], true]) expect(parseSlimAction(raw)).toBeNull();
    const parsed = parseSlimAction(wireAction);
    expect(parsed).toEqual(wireAction);
    expect(parsed).not.toBe(wireAction);
  });
});

describe("parse properties", () => {
  const field = fc.oneof(
    fc.string(),
    fc.double(),
    fc.integer().map(String),
    fc.constantFrom(null, undefined, true, "", "NaN", "1e400"),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const actionLike = fc.dictionary(
    fc.constantFrom("index", "type", "title", "description", "canonical_url", "raw_url", "timestamp_start",
      "timestamp_end", "session_id", "user_id", "email", "conversation_id", "__proto__", "extra"),
    field,
  );
  const payloadLike = fc.record(
    {
      type: fc.constantFrom("actions", "summary", "other", null, 1),
      product_id: field,
      session_id: field,
      summary: field,
      replaces: field,
      count: field,
      forwarded_at: field,
      actions: fc.oneof(fc.array(fc.oneof(actionLike, field), { maxLength: 8 }), field),
    },
    { requiredKeys: [] },
  );
  const anyBody = fc.oneof(fc.jsonValue(), payloadLike);

  const outcome = (fn: () => unknown): unknown => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      return "rejected";
    }
  };

  it("is total: any value or its JSON text parses or throws a PayloadError", () => {
    fc.assert(
      fc.property(anyBody, (value) => {
        const text = JSON.stringify(value) ?? "null";
        for (const raw of [value, text, Buffer.from(text)]) {
          outcome(() => parseActionsPayload(raw));
          outcome(() => parseSummaryPayload(raw));
          outcome(() => parsePayload(raw));
        }
      }),
    );
  });

  it("is a fixpoint: parse(JSON.stringify(parse(x))) equals parse(x)", () => {
    fc.assert(
      fc.property(anyBody, (value) => {
        const first = outcome(() => parsePayload(value));
        if (first === "rejected" || first === null) return;
        expect(parsePayload(JSON.stringify(first))).toStrictEqual(first);
        expect(parsePayload(first)).toStrictEqual(first);
      }),
    );
  });

  it("reads a value and its JSON text the same way", () => {
    fc.assert(
      fc.property(payloadLike, (value) => {
        const text = JSON.stringify(value);
        expect(outcome(() => parsePayload(text))).toStrictEqual(outcome(() => parsePayload(JSON.parse(text))));
      }),
    );
  });
});
