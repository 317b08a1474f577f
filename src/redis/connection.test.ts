import { expect, it } from "vitest";
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
