import { describe, expect, it } from "vitest";
import type { Logger } from "./logger.js";
import { rateLimitedLogger, RateLimiter } from "./rate-limit.js";

function recorder(): { logger: Logger; lines: Array<[string, string, Record<string, unknown> | undefined]> } {
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push([level, message, fields]);
  return { logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
}

describe("rateLimitedLogger", () => {
  it("lets a repeated failure through once per window and counts the repeats held back", () => {
    let now = 0;
    const { logger, lines } = recorder();
    const limited = rateLimitedLogger(logger, { windowMs: 1_000, now: () => now });
    for (let i = 0; i < 10; i++, now += 100) limited.error("polling for due sessions failed", { error: "down" });
    expect(lines).toEqual([["error", "polling for due sessions failed", { error: "down" }]]);
    now = 1_000;
    limited.error("polling for due sessions failed", { error: "down" });
    expect(lines[1]).toEqual(["error", "polling for due sessions failed", { error: "down", suppressed: 9 }]);
  });

  it("never holds back the messages it is told to keep, nor debug and info", () => {
    const { logger, lines } = recorder();
    const limited = rateLimitedLogger(logger, { always: ["note dead-lettered"] });
    for (let i = 0; i < 3; i++) {
      limited.warn("note dead-lettered", { id: String(i) });
      limited.info("session linked");
      limited.debug("note delivered");
    }
    expect(lines.filter(([, m]) => m === "note dead-lettered")).toHaveLength(3);
    expect(lines).toHaveLength(9);
  });

  it("keeps keys apart and bounded", () => {
    const limiter = new RateLimiter(1_000, () => 0, 2);
    expect([limiter.allow("a"), limiter.allow("b"), limiter.allow("a"), limiter.allow("c"), limiter.allow("a")]).toEqual([0, 0, null, 0, 0]);
  });
});
