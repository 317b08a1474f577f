import { describe, expect, it, vi } from "vitest";
import { slim } from "../writer/test-support/actions.js";
import type { RedisCommands } from "./commands.js";
import { RENEW } from "./delivery-scripts.js";
import { FLUSH_CONCURRENCY } from "./redis-delivery.js";
import { FaultyClient, linesOf, redisTestBed, sleep } from "./test-support/harness.js";

// Issue 7 (i): close() is bounded by closeTimeoutMs in total; what is unconfirmed stays claimable.
const bed = redisTestBed("close");
const T0 = Math.floor(Date.now() / 1000);

describe("bounded close (i)", () => {
  it("flush drains many sessions a bounded number at a time, and delivers every one", async () => {
    let inFlight = 0;
    let most = 0;
    const client: RedisCommands = {
      async sendCommand(args, options) {
        most = Math.max(most, ++inFlight);
        try {
          return await bed.redis.sendCommand(args, options);
        } finally {
          inFlight--;
        }
      },
    };
    const w = bed.make({ postLinkDebounceMs: 600_000, maxWaitMs: 1_200_000 }, { client });
    const sessions = FLUSH_CONCURRENCY + 200;
    for (let i = 0; i < sessions; i++) {
      await w.onSessionLinked(`s${i}`, `c${i}`);
      await w.writeActions(null, `s${i}`, [slim(`a${i}`, T0, 0)]);
    }
    most = 0;
    await w.flush();
    expect(new Set(w.delivered.map((c) => c.sessionId)).size).toBe(sessions);
    // One command per drained session at a time, and a few of the engine's own beside them.
    expect(most).toBeLessThanOrEqual(FLUSH_CONCURRENCY + 8);
  }, 60_000);

  it("returns within closeTimeoutMs with Redis down mid-post; the note stays claimable and is re-delivered with the same key", async () => {
    const client = new FaultyClient(bed.redis);
    const a = bed.make({ closeTimeoutMs: 500, postTimeoutMs: 200 }, { client, leaseMarginMs: 200 });
    a.next(async () => {
      client.down = true; // Redis goes away while the platform call is pending
      await sleep(300);
      return "landed";
    });
    await a.onSessionLinked("s", "c");
    await a.writeActions(null, "s", [slim("in flight", T0, 0)]);
    await vi.waitFor(() => expect(a.calls).toHaveLength(1), { timeout: 3000 });
    const started = Date.now();
    const summary = await a.close();
    expect(Date.now() - started).toBeLessThan(500 + 250);
    expect(summary).toMatchObject({ unconfirmed: 1, leftInRedis: 1, deadLettered: 0 });

    client.down = false;
    const b = bed.make({ postTimeoutMs: 200 }, { leaseMarginMs: 200 });
    await vi.waitFor(() => expect(b.delivered).toHaveLength(1), { timeout: 4000 });
    expect(b.delivered[0]?.idempotencyKey).toBe(a.calls[0]?.idempotencyKey);
    expect(b.delivered[0]?.body).toBe(a.calls[0]?.body);
    expect(linesOf(b.delivered)).toEqual(["in flight"]);
  });

  it("does not wait past the bound for a call that never settles", async () => {
    const a = bed.make({ closeTimeoutMs: 300 });
    a.next(() => new Promise<never>(() => undefined));
    await a.onSessionLinked("s", "c");
    await a.writeActions(null, "s", [slim("hung", T0, 0)]);
    await a.writeActions(null, "other", [slim("owed", T0, 0)]);
    await vi.waitFor(() => expect(a.calls).toHaveLength(1), { timeout: 3000 });
    const started = Date.now();
    const summary = await a.close();
    expect(Date.now() - started).toBeLessThan(300 + 250);
    expect(summary.unconfirmed).toBe(1);
    expect(summary.leftInRedis).toBeGreaterThanOrEqual(1);
  });

  it("stops renewing the lease of a call it gave up on at close, so the lease runs out for another process", async () => {
    const client = new FaultyClient(bed.redis);
    const a = bed.make({ closeTimeoutMs: 200, postTimeoutMs: 50 }, { client, leaseMarginMs: 100 });
    a.next(() => new Promise<never>(() => undefined));
    await a.onSessionLinked("s", "c");
    await a.writeActions(null, "s", [slim("hung", T0, 0)]);
    await vi.waitFor(() => expect(client.runs(RENEW)).toBeGreaterThan(0), { timeout: 3000 });
    await a.close();
    const afterClose = client.runs(RENEW);
    await sleep(600); // several renewal periods (lease 2 × 50 + 100 ms, renewed every third of it)
    expect(client.runs(RENEW)).toBeLessThanOrEqual(afterClose + 1);
  });
});
