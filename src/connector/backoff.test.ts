import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseRetryAfter, reconnectDelay } from "./backoff.js";
import type { BackoffPolicy } from "./backoff.js";

const policy = (jitter: "full" | "equal", r: number): BackoffPolicy => ({ initialMs: 1_000, maxMs: 30_000, jitter, random: () => r });

describe("reconnectDelay", () => {
  it("doubles from 1 s and caps at 30 s (equal jitter at its top)", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelay(attempt, policy("equal", 1)));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it("equal jitter never goes below half the cap; full jitter may reach 0", () => {
    expect(reconnectDelay(2, policy("equal", 0))).toBe(2_000);
    expect(reconnectDelay(2, policy("full", 0))).toBe(0);
    expect(reconnectDelay(2, policy("full", 0.5))).toBe(2_000);
  });

  it("uses the floor (a Retry-After) when it is longer", () => {
    expect(reconnectDelay(0, policy("full", 0.5), 5_000)).toBe(5_000);
    expect(reconnectDelay(3, policy("equal", 1), 5_000)).toBe(8_000);
  });

  it("stays finite and in range for any attempt and any random value", () => {
    fc.assert(
      fc.property(fc.nat(), fc.double(), fc.constantFrom("full" as const, "equal" as const), (attempt, r, jitter) => {
        const delay = reconnectDelay(attempt, policy(jitter, r));
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(30_000);
      }),
    );
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  it("reads delta seconds and HTTP dates", () => {
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
  });

  it("returns undefined when absent or unreadable", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});
