import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeActionsPayloads } from "../payloads/merge.js";
import { parseActionsPayload } from "../payloads/parse.js";
import { base36, dedupeHashes, dedupeIds, hasWireIdentity, writeDedupeHashes } from "./action-identity.js";
import { SeenIds } from "./seen-ids.js";
import { referenceDedupeHashes } from "./test-support/reference-identity.js";

const base = { type: "click", canonical_url: "https://app.example/x", timestamp_end: 0 };

describe("dedupe ids", () => {
  it("keeps distinct actions that share index 0 and a whole-second stamp apart (the quick-start shape)", () => {
    const ids = dedupeIds([
      { ...base, index: 0, timestamp_start: 1718000000, description: "Opened Billing" },
      { ...base, index: 0, timestamp_start: 1718000000, description: "Clicked Upgrade" },
    ]);
    expect(new Set(ids).size).toBe(2);
  });

  it("gives a replayed batch the same ids, whatever its forwarded_at", () => {
    const body = (forwardedAt: number) =>
      JSON.stringify({ session_id: "s", forwarded_at: forwardedAt, actions: [{ index: 3, timestamp_start: 1718000000.5, description: "a" }] });
    expect(dedupeIds(parseActionsPayload(body(1)).actions)).toEqual(dedupeIds(parseActionsPayload(body(2)).actions));
  });

  it("does not key on an index or timestamp the parser defaulted", () => {
    const [noIndex] = parseActionsPayload({ session_id: "s", actions: [{ timestamp_start: 1718000000, description: "a" }] }).actions;
    const [noTime] = parseActionsPayload({ session_id: "s", actions: [{ index: 1, description: "a" }] }).actions;
    const [zeroIndex] = parseActionsPayload({ session_id: "s", actions: [{ index: 0, timestamp_start: 1718000000, description: "a" }] }).actions;
    // A sent time identifies an action; a defaulted index 0 is not the same as a sent index 0.
    expect(hasWireIdentity(noIndex!)).toBe(true);
    expect(dedupeIds([noIndex!])).not.toEqual(dedupeIds([zeroIndex!]));
    // Without a sent time, the action is identified by its batch.
    expect(hasWireIdentity(noTime!)).toBe(false);
    // The same description twice in one batch without identity: two actions, two ids.
    const twice = parseActionsPayload({ session_id: "s", actions: [{ description: "Next" }, { description: "Next" }] }).actions;
    expect(new Set(dedupeIds(twice)).size).toBe(2);
    // …and a replay of that batch maps onto the same two ids.
    const again = parseActionsPayload({ session_id: "s", actions: [{ description: "Next" }, { description: "Next" }] }).actions;
    expect(dedupeIds(again)).toEqual(dedupeIds(twice));
  });

  it("recognises a replay that a merge re-indexed, by the sent time and content", () => {
    const first = parseActionsPayload({ session_id: "s", actions: [{ index: 7, timestamp_start: 1718000000.25, description: "a" }] });
    const merged = mergeActionsPayloads([parseActionsPayload({ session_id: "s", actions: [{ description: "z", timestamp_start: 1718000000 }] }), first]);
    expect(merged.actions[1]!.index).toBe(1);
    const original = parseActionsPayload({ session_id: "s", actions: [{ timestamp_start: 1718000000.25, description: "a" }] });
    expect(dedupeIds([merged.actions[1]!])).toEqual(dedupeIds(original.actions));
  });

  it("writes ids in base 36 exactly as Number#toString(36) does, edges of its two halves included", () => {
    const six = 36 ** 6;
    const edges = [0, 1, 35, 36, six - 1, six, six + 1, 2 * six - 1, 2 ** 32, 2 ** 52, 2 ** 53 - 1, 2 ** 53 - 2];
    for (let k = 1; k < 2 ** 53 / six; k = k * 3 + 1) edges.push(k * six - 1, k * six, k * six + 1);
    for (const n of edges.filter((n) => n < 2 ** 53)) expect(base36(n)).toBe(n.toString(36));
    // What base36 relies on: just below every multiple of 36^6 up to 2^53, the division does not round up.
    let roundedUp = 0;
    for (let k = 1; k * six <= 2 ** 53; k++) if (Math.floor((k * six - 1) / six) !== k - 1) roundedUp++;
    expect(roundedUp).toBe(0);
    fc.assert(fc.property(fc.maxSafeNat(), (n) => base36(n) === n.toString(36)), { numRuns: 2000 });
    // The ids themselves: the hashes in base 36, empty for items that are not actions.
    const actions = [{ description: "a", timestamp_start: 1718000000 }, null as never, { description: "b", timestamp_start: 1718000001 }];
    expect(dedupeIds(actions)).toEqual(dedupeHashes(actions).map((h) => (Number.isNaN(h) ? "" : h.toString(36))));
  });

  it("marks items that are not actions with an empty id", () => {
    expect(dedupeIds([null as never, { description: "a" }])[0]).toBe("");
  });

  it("property: distinct identified actions get distinct ids; identical ones the same", () => {
    const action = fc.record({
      index: fc.nat(50),
      timestamp_start: fc.integer({ min: 1718000000, max: 1718000010 }),
      description: fc.string({ maxLength: 8 }),
      type: fc.constantFrom("click", "pageview"),
    });
    fc.assert(
      fc.property(fc.array(action, { maxLength: 30 }), (list) => {
        const hashes = dedupeHashes(list);
        const byContent = new Map<string, number>();
        list.forEach((a, i) => {
          const key = JSON.stringify([a.index, a.timestamp_start, a.description, a.type]);
          const seen = byContent.get(key);
          if (seen === undefined) byContent.set(key, hashes[i]!);
          else expect(hashes[i]).toBe(seen);
        });
        expect(new Set(hashes).size).toBe(byContent.size);
      }),
    );
  });

  it("property: ids are exactly the plainly written hash's, for any field values, parsed or not", () => {
    const anyValue = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.boolean(), fc.object());
    const wireValue = fc.oneof(fc.string(), fc.double(), fc.integer({ min: -5, max: 2e9 }), fc.constant(null));
    const fields = (v: fc.Arbitrary<unknown>) =>
      fc.record({ index: v, timestamp_start: v, type: v, description: v, canonical_url: v, timestamp_end: v }, { requiredKeys: [] });
    const notAction = fc.constantFrom(null, 3, "x");
    const raw = fc.array(fc.oneof({ weight: 8, arbitrary: fields(anyValue) }, { weight: 1, arbitrary: notAction }), { maxLength: 12 });
    const wire = fc.array(fields(wireValue), { maxLength: 12 }).map((actions) => parseActionsPayload({ actions }).actions);
    fc.assert(
      fc.property(fc.oneof(raw, wire), (list) => {
        const actions = list as never[];
        const expected = referenceDedupeHashes(actions);
        expect(dedupeHashes(actions)).toEqual(expected);
        const out = new Float64Array(actions.length + 2).fill(7);
        writeDedupeHashes(actions, out);
        expect(Array.from(out.subarray(0, actions.length))).toEqual(expected);
        expect(out[actions.length]).toBe(7); // nothing written past the batch
      }),
      { numRuns: 300 },
    );
  });
});

describe("SeenIds", () => {
  const admit = (seen: SeenIds, ids: number[], now: number, windowMs: number, maxIds: number) =>
    seen.admit(ids, ids.length, now, windowMs, maxIds);

  it("admits each id once, also within one batch, and says which were new", () => {
    const seen = new SeenIds();
    expect(admit(seen, [1, 2], 0, 1000, 10)).toBeNull();
    expect(admit(seen, [3, 2, 3, Number.NaN], 1, 1000, 10)).toEqual([true, false, false, false]);
  });

  it("reads only the first `count` ids of the buffer it is given", () => {
    const seen = new SeenIds();
    expect(seen.admit(Float64Array.of(1, 2, 1), 2, 0, 1000, 10)).toBeNull();
    expect(seen.size).toBe(2);
  });

  it("forgets ids older than the window and the oldest beyond the count", () => {
    const seen = new SeenIds();
    admit(seen, [1], 0, 100, 2);
    admit(seen, [2], 50, 100, 2);
    expect(admit(seen, [1], 101, 100, 2)).toBeNull(); // 1 aged out
    admit(seen, [3], 102, 100, 2);
    expect(seen.size).toBe(2);
    expect(admit(seen, [2], 103, 100, 2)).toBeNull(); // 2 was pushed out by count
  });

  it("ages batches admitted at the same millisecond together", () => {
    const seen = new SeenIds();
    admit(seen, [1], 10, 100, 50);
    admit(seen, [2], 10, 100, 50);
    admit(seen, [3], 60, 100, 50);
    expect(admit(seen, [1, 2, 3], 110, 100, 50)).toEqual([false, false, false]);
    expect(admit(seen, [1, 2, 3], 111, 100, 50)).toEqual([true, true, false]);
  });

  it("finds replays the same way before and after a session outgrows the scan (Set) limit", () => {
    const seen = new SeenIds();
    for (let i = 0; i < 200; i++) {
      expect(admit(seen, [i], i, 1e9, 1000)).toBeNull();
      expect(admit(seen, [i, 0], i, 1e9, 1000)).toEqual([false, false]);
    }
    expect(seen.size).toBe(200);
  });

  it("stays bounded under a long stream", () => {
    const seen = new SeenIds();
    for (let i = 0; i < 100_000; i++) admit(seen, [i], i, 1_000_000, 500);
    expect(seen.size).toBe(500);
  });

  it("property: answers like a plain list of (id, batch time) trimmed by age, then by count", () => {
    const batch = fc.record({
      ids: fc.array(fc.oneof({ weight: 12, arbitrary: fc.nat(120) }, { weight: 1, arbitrary: fc.constant(Number.NaN) }), { maxLength: 6 }),
      advance: fc.oneof(fc.constant(0), fc.nat(40)),
    });
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 120 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 90 }), (batches, windowMs, maxIds) => {
        const seen = new SeenIds();
        let model: Array<[number, number]> = [];
        let now = 0;
        for (const { ids, advance } of batches) {
          now += advance;
          while (model.length > 0 && model[0]![1] < now - windowMs) model.shift();
          const expected = ids.map((id) => {
            if (Number.isNaN(id) || model.some(([m]) => m === id)) return false;
            model.push([id, now]);
            return true;
          });
          model = model.slice(Math.max(0, model.length - maxIds));
          expect(admit(seen, ids, now, windowMs, maxIds)).toEqual(expected.every(Boolean) ? null : expected);
          expect(seen.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("items that are not actions", () => {
  it("are never accepted or counted: the write's outcome counts actions only", async () => {
    const { createTestWriter } = await import("../testing/index.js");
    const writer = createTestWriter();
    const outcome = await writer.writeActions(null, "s", [null as never, { description: "a", timestamp_start: 1718000000 }, 7 as never]);
    expect(outcome).toMatchObject({ accepted: 1, duplicates: 0 });
    await writer.close();
  });
});

describe("the memory engine's dedupe of large batches", () => {
  it("recognises replays of a batch larger than its reused id buffer, and of small batches after it", async () => {
    const { createTestWriter } = await import("../testing/index.js");
    const writer = createTestWriter();
    const big = Array.from({ length: 3000 }, (_, i) => ({ index: i, description: `a${i}`, timestamp_start: 1718000000 + i / 10 }));
    expect(await writer.writeActions(null, "s", big)).toMatchObject({ accepted: 3000, duplicates: 0 });
    expect(await writer.writeActions(null, "s", big)).toMatchObject({ accepted: 0, duplicates: 3000 });
    const small = [{ index: 3000, description: "b", timestamp_start: 1718000400 }];
    expect(await writer.writeActions(null, "s", [...small, big[5]!])).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(await writer.writeActions(null, "s", small)).toMatchObject({ accepted: 0, duplicates: 1 });
    await writer.close();
  });
});
