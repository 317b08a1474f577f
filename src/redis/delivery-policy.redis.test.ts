import { afterAll, beforeAll } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import { describeDeliveryPolicy } from "../writer/test-support/delivery-policy-suite.js";
import type { RedisConnection } from "./connection.js";
import { redisDelivery } from "./redis-delivery.js";

let redis: RedisConnection;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await redis.close();
});

/** Keys under `prefix` (SCAN, never KEYS). */
async function countKeys(prefix: string): Promise<number> {
  let cursor = "0";
  let count = 0;
  do {
    const reply = (await redis.sendCommand(["SCAN", cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", "500"])) as [string, string[]];
    cursor = reply[0];
    count += reply[1].length;
  } while (cursor !== "0");
  return count;
}

describeDeliveryPolicy(
  "Redis engine",
  async () => {
    const keyPrefix = uniquePrefix("policy");
    return {
      delivery: () => redisDelivery({ connection: redis, keyPrefix, pollIntervalMs: 25, leaseMarginMs: 150 }),
      footprint: () => countKeys(keyPrefix),
      cleanup: async () => {
        await deleteByPrefix(redis, keyPrefix);
      },
    };
  },
  { shared: true, durable: true },
);
