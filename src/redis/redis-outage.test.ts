import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it, vi } from "vitest";
import { closedPortUrl } from "../../test/support/redis.js";
import { createTestWriter } from "../testing/index.js";
import { slim } from "../writer/test-support/actions.js";
import { RedisUnavailableError } from "./commands.js";
import { RedisConnection } from "./connection.js";
import { redisDelivery } from "./redis-delivery.js";

const dir = mkdtempSync(join(tmpdir(), "redis-outage-"));
let server: ChildProcess | undefined;

/** A redis-server of this test's own, on a spare port, keeping its data in an append-only file. */
async function startServer(port: number): Promise<void> {
  server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir", dir], {
    stdio: "ignore",
  });
  const probe = new RedisConnection({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 });
  try {
    await vi.waitFor(() => probe.sendCommand(["PING"]), { timeout: 5000, interval: 50 });
  } finally {
    await probe.close();
  }
}

async function stopServer(port: number): Promise<void> {
  const admin = new RedisConnection({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 500 });
  await admin.sendCommand(["SHUTDOWN"]).catch(() => undefined); // the reply never comes: the server is gone
  await admin.close();
  await new Promise((resolve) => (server?.exitCode !== null ? resolve(null) : server.once("exit", resolve)));
}

afterAll(() => {
  server?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

it("fails fast while Redis is down and resumes delivery after it restarts, no session stuck", async () => {
  const url = await closedPortUrl();
  const port = Number(new URL(url).port);
  await startServer(port);
  const connection = new RedisConnection({ url, commandTimeoutMs: 500 });
  const writer = createTestWriter({ postLinkDebounceMs: 200, delivery: redisDelivery({ connection, pollIntervalMs: 50 }) });
  const t = Math.floor(Date.now() / 1000);

  await writer.onSessionLinked("s", "c");
  await writer.writeActions(null, "s", [slim("before outage", t, 0)]);
  await vi.waitFor(() => expect(writer.notes).toHaveLength(1), { timeout: 3000 });

  await writer.writeActions(null, "s", [slim("pending at the outage", t + 1, 1)]);
  await stopServer(port);

  const started = Date.now();
  await expect(writer.writeActions(null, "s", [slim("during outage", t + 2, 2)])).rejects.toBeInstanceOf(RedisUnavailableError);
  expect(Date.now() - started).toBeLessThan(1000);
  await new Promise((r) => setTimeout(r, 400)); // the debounce ends while Redis is down

  await startServer(port);
  await vi.waitFor(() => expect(writer.notes).toHaveLength(2), { timeout: 8000, interval: 50 });
  await writer.writeActions(null, "s", [slim("after restart", t + 3, 3)]);
  await vi.waitFor(() => expect(writer.notes).toHaveLength(3), { timeout: 3000 });

  const lines = writer.notes.map((n) => n.body.split("\n\n")[1]);
  expect(lines).toEqual(["[1] before outage", "[1] pending at the outage", "[1] after restart"]);
  await writer.close();
  await connection.close();
  await stopServer(port);
}, 30_000);
