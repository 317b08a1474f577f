import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExpiringMap } from "./expiring-map.js";

type Op = { kind: "set"; key: string; value: number; ttl: number } | { kind: "get"; key: string } | { kind: "delete"; key: string } | { kind: "tick"; ms: number } | { kind: "prune" };

const key = fc.constantFrom("a", "b", "c", "d", "e", "f");
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key, value: fc.integer(), ttl: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant("get" as const), key }),
  fc.record({ kind: fc.constant("delete" as const), key }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant("prune" as const) }),
);

describe("ExpiringMap", () => {
  it("behaves like a list in least-recently-used order with expiry and a count cap (model check)", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 4 }), (ops, max) => {
        let now = 0;
        const map = new ExpiringMap<number>({ ttlMs: 10, now: () => now, maxEntries: max });
        // The model: entries oldest first.
        let model: Array<{ key: string; value: number; expires: number }> = [];
        try {
          for (const o of ops) {
            if (o.kind === "tick") now += o.ms;
            else if (o.kind === "set") {
              model = model.filter((e) => e.key !== o.key);
              model.push({ key: o.key, value: o.value, expires: now + o.ttl });
              if (model.length > max) model = model.slice(model.length - max);
              map.set(o.key, o.value, o.ttl);
            } else if (o.kind === "delete") {
              model = model.filter((e) => e.key !== o.key);
              map.delete(o.key);
            } else if (o.kind === "prune") {
              const live = model.filter((e) => e.expires > now);
              expect(map.pruneExpired()).toBe(model.length - live.length);
              model = live;
            } else {
              const found = model.find((e) => e.key === o.key);
              const expected = found !== undefined && found.expires > now ? found.value : undefined;
              expect(map.get(o.key)).toBe(expected);
              model = model.filter((e) => e.key !== o.key);
              if (found !== undefined && expected !== undefined) model.push(found);
            }
            expect(map.size).toBe(model.length);
          }
        } finally {
          map.clear();
        }
      }),
    );
  });

  it("keeps a constant cost per operation at its cap (no walk over deleted slots)", () => {
    const map = new ExpiringMap<number>({ ttlMs: 60_000, now: Date.now, maxEntries: 50_000 });
    const started = performance.now();
    for (let i = 0; i < 400_000; i++) {
      map.set(`s${i}`, i);
      map.get(`s${i - 1_000}`);
    }
    // About 0.3 s here; moving entries by delete-and-set made each eviction walk the deleted slots.
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(map.size).toBe(50_000);
    map.clear();
  });
});
