import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../../test/support/redis.js";
import { createTestWriter } from "../testing/index.js";
import type { RedisConnection } from "./connection.js";
import { redisDelivery } from "./redis-delivery.js";

let redis: RedisConnection;
const prefix = uniquePrefix("delivery-crash");

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  await redis.close();
});

it("delivers, after the lease, the actions a SIGKILLed process had claimed but not confirmed", async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../../test/fixtures/crash-holder.mjs", import.meta.url))], {
    env: { ...process.env, REDIS_URL: redisUrl(), KEY_PREFIX: prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const claimed = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      const line = chunk.toString().split("\n").find((l) => l.startsWith("CLAIMED "));
      if (line) resolve(line);
    });
    child.on("exit", (code) => reject(new Error(`child exited (${code}) before claiming`)));
  });
  const killedAt = Date.now();
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  expect(claimed).toContain("[1] first");

  const rescuer = createTestWriter({ postLinkDebounceMs: 20, delivery: redisDelivery({ connection: redis, keyPrefix: prefix, pollIntervalMs: 50 }) });
  await vi.waitFor(() => expect(rescuer.notes.length).toBeGreaterThanOrEqual(2), { timeout: 8000, interval: 50 });
  const firstDelivery = (rescuer.notes[0]?.at ?? 0) - killedAt;
  await rescuer.close();

  // The lease (1 s post timeout + 0.5 s margin) had to run out first.
  expect(firstDelivery).toBeGreaterThan(500);
  const lines = rescuer.notes.flatMap((n) => n.body.split("\n").slice(3).filter((l) => l !== "").map((l) => l.replace(/^\[\d+\] /, "")));
  expect(lines).toEqual(["first", "second", "third"]);
  expect(rescuer.notes.map((n) => n.conversationId)).toEqual(["conv-crash", "conv-crash"]);
}, 20_000);
