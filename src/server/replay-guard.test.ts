import { describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "./replay-guard.js";

describe("MemoryReplayGuard", () => {
  it("answers new, then in-progress, then done; abandon frees a key", async () => {
    let now = 0;
    const guard = new MemoryReplayGuard(1_000, 100, 100, () => now);
    expect(await guard.begin("a")).toBe("new");
    expect(await guard.begin("a")).toBe("in-progress");
    await guard.complete("a");
    expect(await guard.begin("a")).toBe("done");
    expect(await guard.begin("b")).toBe("new");
    await guard.abandon("b");
    expect(await guard.begin("b")).toBe("new");
    now = 200; // b's in-progress mark lapsed (a crashed handler), a is still done
    expect(await guard.begin("b")).toBe("new");
    expect(await guard.begin("a")).toBe("done");
    now = 1_001;
    expect(await guard.begin("a")).toBe("new");
  });

  it("remembers at least the last maxEntries keys and holds at most twice that, forgetting the oldest first", async () => {
    const guard = new MemoryReplayGuard(60_000, 30_000, 10);
    for (let i = 0; i < 1_000; i++) {
      await guard.begin(`k${i}`);
      await guard.complete(`k${i}`);
      expect(guard.size).toBeLessThanOrEqual(20);
      for (let back = 0; back < Math.min(10, i + 1); back++) expect(await guard.begin(`k${i - back}`)).toBe("done");
    }
    expect(await guard.begin("k0")).toBe("new");
    const slow = new MemoryReplayGuard(60_000, 30_000, 10);
    await slow.begin("in-flight");
    for (let i = 0; i < 9; i++) await slow.begin(`other${i}`);
    expect(await slow.begin("in-flight")).toBe("in-progress");
  });

  it("keeps a constant cost per key at its bound (no walk over deleted slots)", async () => {
    const guard = new MemoryReplayGuard(60_000, 30_000, 100_000);
    const started = performance.now();
    for (let i = 0; i < 300_000; i++) {
      await guard.begin(`key-${i}`);
      await guard.complete(`key-${i}`);
    }
    // About 0.2 s here; the walk from the oldest entry it replaces took over 5 s.
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("refuses a bound below 1 or fractional, and takes Infinity", async () => {
    expect(() => new MemoryReplayGuard(1, 1, 0)).toThrow(/maxEntries/);
    expect(() => new MemoryReplayGuard(1, 1, 2.5)).toThrow(/maxEntries/);
    const unbounded = new MemoryReplayGuard(60_000, 30_000, Number.POSITIVE_INFINITY);
    expect(await unbounded.begin("a")).toBe("new");
    expect(await unbounded.begin("a")).toBe("in-progress");
  });
});
