import { expect, it, vi } from "vitest";
import type { RedisCommands } from "./commands.js";
import { RedisUnavailableError } from "./commands.js";
import { RedisConnection } from "./connection.js";

it("fails a command that gets no reply within commandTimeoutMs, and ignores its late reply", async () => {
  let answer: ((value: unknown) => void) | undefined;
  const silent: RedisCommands = { sendCommand: () => new Promise((resolve) => (answer = resolve)) };
  const connection = new RedisConnection({ client: silent, commandTimeoutMs: 100 });
  const started = Date.now();
  await expect(connection.sendCommand(["PING"])).rejects.toBeInstanceOf(RedisUnavailableError);
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(95);
  expect(elapsed).toBeLessThan(1000);
  answer?.("PONG"); // too late: nothing happens
  await connection.close();
});

it("never closes a client it was given, and refuses commands once closed", async () => {
  let closed = false;
  const client = { sendCommand: async () => "PONG", close: async () => void (closed = true) };
  const connection = new RedisConnection({ client });
  expect(await connection.sendCommand(["PING"])).toBe("PONG");
  await connection.close();
  expect(closed).toBe(false);
  await expect(connection.sendCommand(["PING"])).rejects.toThrow(/closed/);
});

it("counts the commands it sends, and arms no timer per command in the client it creates", async () => {
  // node-redis 6 would arm an AbortSignal.timeout per command by default: garbage that showed
  // as the Redis configuration's latency tail. Our one watchdog bounds commands instead.
  const timeouts = vi.spyOn(AbortSignal, "timeout");
  const connection = new RedisConnection({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
  try {
    await Promise.all(Array.from({ length: 50 }, () => connection.sendCommand(["PING"])));
    expect(connection.commandsSent).toBe(50);
    expect(timeouts).not.toHaveBeenCalled();
  } finally {
    timeouts.mockRestore();
    await connection.close();
  }
});
