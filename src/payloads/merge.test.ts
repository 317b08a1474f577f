import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { PayloadError } from "../errors.js";
import { mergeActionsPayloads } from "./merge.js";
import { parseActionsPayload } from "./parse.js";
import type { ActionsPayload, SlimAction } from "./types.js";

function action(index: number, description: string, extra: Partial<SlimAction> = {}): SlimAction {
  return {
    index,
    type: "click",
    title: "",
    description,
    canonical_url: "/x",
    raw_url: "/x?a",
    timestamp_start: 100 + index,
    timestamp_end: 100 + index,
    ...extra,
  };
}

function payload(actions: SlimAction[], fields: Partial<ActionsPayload> = {}): ActionsPayload {
  return {
    type: "actions",
    product_id: "",
    session_id: null,
    user_id: null,
    email: null,
    actions,
    count: actions.length,
    forwarded_at: 0,
    conversation_id: null,
    ...fields,
  };
}

describe("mergeActionsPayloads", () => {
  it("concatenates actions in order, re-indexed from 0, with count = total", () => {
    const merged = mergeActionsPayloads([
      payload([action(5, "a"), action(6, "b")]),
      payload([]),
      payload([action(0, "c")]),
    ]);
    expect(merged.actions.map((a) => [a.index, a.description])).toEqual([
      [0, "a"],
      [1, "b"],
      [2, "c"],
    ]);
    expect(merged.count).toBe(3);
    expect(merged.type).toBe("actions");
  });

  it("takes each id from the first non-empty value and forwarded_at as the max", () => {
    const merged = mergeActionsPayloads([
      payload([], { product_id: "", session_id: null, email: "", forwarded_at: 10 }),
      payload([], { product_id: "p1", session_id: "s1", user_id: "u1", forwarded_at: 30 }),
      payload([], { product_id: "p2", session_id: "s2", email: "e@x", conversation_id: "c2", forwarded_at: 20 }),
    ]);
    expect(merged).toMatchObject({
      product_id: "p1",
      session_id: "s1",
      user_id: "u1",
      email: "e@x",
      conversation_id: "c2",
      forwarded_at: 30,
    });
  });

  it("keeps empty ids empty: null for optional ids, \"\" for product_id", () => {
    const merged = mergeActionsPayloads([payload([], { email: "" })]);
    expect(merged).toMatchObject({ product_id: "", session_id: null, email: null, forwarded_at: 0 });
  });

  it("ignores a NaN forwarded_at", () => {
    const merged = mergeActionsPayloads([payload([], { forwarded_at: Number.NaN }), payload([], { forwarded_at: 7 })]);
    expect(merged.forwarded_at).toBe(7);
  });

  it("returns fresh actions and leaves the inputs untouched", () => {
    const a = action(9, "a", { session_id: "s", email: null });
    const inputs = [payload([a])];
    const snapshot = structuredClone(inputs);
    const merged = mergeActionsPayloads(inputs);
    expect(merged.actions[0]).not.toBe(a);
    expect(merged.actions[0]).toStrictEqual({ ...a, index: 0 });
    expect(inputs).toEqual(snapshot);
  });

  it("copies only known fields of an action", () => {
    const a = { ...action(0, "a"), secret: "x" } as SlimAction;
    expect(Object.keys(mergeActionsPayloads([payload([a])]).actions[0]!)).not.toContain("secret");
  });

  it("throws a PayloadError for an empty list", () => {
    expect(() => mergeActionsPayloads([])).toThrow(PayloadError);
  });

  it("re-indexes 0..N-1 and preserves order (property)", () => {
    const batch = fc.array(fc.string(), { maxLength: 6 }).map((ds) => payload(ds.map((d, i) => action(i * 7, d))));
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 6 }), (list) => {
        const merged = mergeActionsPayloads(list);
        const all = list.flatMap((p) => p.actions);
        expect(merged.actions.map((a) => a.index)).toEqual(all.map((_, i) => i));
        expect(merged.actions.map((a) => a.description)).toEqual(all.map((a) => a.description));
        expect(merged.count).toBe(all.length);
      }),
    );
  });

  it("keeps the wire indexes with reindex: false", () => {
    const a = parseActionsPayload({ session_id: "s", actions: [{ index: 7, description: "a" }] });
    const b = parseActionsPayload({ session_id: "s", actions: [{ index: 9, description: "b" }] });
    expect(mergeActionsPayloads([a, b], { reindex: false }).actions.map((x) => x.index)).toEqual([7, 9]);
    expect(mergeActionsPayloads([a, b]).actions.map((x) => x.index)).toEqual([0, 1]);
  });
});
