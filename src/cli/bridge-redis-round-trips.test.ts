/** The production path's Redis budget: a batch for a known session costs at most two round trips. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../../test/support/redis.js";
import type { RedisConnection } from "../redis/connection.js";
import { createJsonLogger } from "../server/logger.js";
import { startBridge, type RunningBridge } from "./bridge.js";
import { loadConfig } from "./config.js";

let redis: RedisConnection;
let bridge: RunningBridge;
const prefix = uniquePrefix("round-trips");
const T0 = Math.floor(Date.now() / 1000) - 60;

beforeAll(async () => {
  redis = await connectTestRedis();
  bridge = await startBridge(loadConfig({ PORT: "0", REDIS_URL: redisUrl(), REDIS_KEY_PREFIX: prefix, ALLOW_UNSIGNED: "true" }), { logger: createJsonLogger({ write: () => undefined }) });
});

afterAll(async () => {
  await bridge.close();
  await deleteByPrefix(redis, prefix);
  await redis.close();
});

async function commandsSent(): Promise<number> {
  const text = await (await fetch(`${bridge.url}/metrics`)).text();
  return Number(/^bridge_redis_commands_total (\d+)$/m.exec(text)?.[1]);
}

function batch(sessionId: string, index: number): string {
  const actions = [0, 1, 2].map((k) => ({ index: index * 3 + k, description: `Clicked ${index * 3 + k}`, timestamp_start: T0 + index }));
  return JSON.stringify({ type: "actions", product_id: "p", session_id: sessionId, actions });
}

it("POST /events for a known session costs at most 2 Redis round trips (state read and write)", async () => {
  const post = (body: string) => fetch(`${bridge.url}/events`, { method: "POST", headers: { "content-type": "application/json" }, body });
  for (const id of ["rt-a", "rt-b"]) expect((await post(batch(id, 0))).status).toBe(202); // first sight: the state is created
  const before = await commandsSent();
  const requests = 40;
  for (let i = 1; i <= requests; i++) {
    const res = await post(batch(i % 2 === 0 ? "rt-a" : "rt-b", i));
    expect(await res.json()).toMatchObject({ status: "accepted", new: 3, duplicates: 0 });
  }
  // A replay is answered by this process without Redis.
  expect(await (await post(batch("rt-a", 2))).json()).toEqual({ status: "duplicate" });
  const perRequest = ((await commandsSent()) - before) / (requests + 1);
  expect(perRequest).toBeGreaterThan(0);
  expect(perRequest).toBeLessThanOrEqual(2);
});
