import type { RedisCommands } from "../src/index.js";

/** Deletes every key under `prefix` (the Redis benchmarks' own keys). */
export async function deleteKeysUnder(redis: RedisCommands, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = (await redis.sendCommand(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [string, string[]];
    cursor = next;
    if (keys.length > 0) await redis.sendCommand(["UNLINK", ...keys]);
  } while (cursor !== "0");
}
