/**
 * A `redis-server` of the suite's own on a spare port (`--save '' --appendonly no`), for the
 * scenario that restarts Redis mid-burst. `restart()` stops it with `SHUTDOWN SAVE` (a clean stop
 * that writes its data once, as a Redis with persistence would keep it) and starts it again on
 * the same port and directory. Only this process is ever stopped, by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SHUTDOWN SAVE) and resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no spare port");
  return address.port;
}

/** Sends one inline command and resolves with the first reply line ("" if the socket closed). */
function command(port: number, line: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("");
    }, timeoutMs);
    let reply = "";
    socket.on("connect", () => socket.write(`${line}\r\n`));
    socket.on("data", (d) => {
      reply += d.toString();
      if (reply.includes("\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply.split("\r\n")[0] ?? "");
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(reply.split("\r\n")[0] ?? "");
    });
  });
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "faults-redis-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", "faults.rdb"], {
      stdio: "ignore",
    });
    const current = child;
    exited = new Promise<void>((resolve) => current.once("exit", () => resolve()));
    const deadline = Date.now() + 10_000;
    while ((await command(port, "PING", 500)) !== "+PONG") {
      if (Date.now() > deadline || current.exitCode !== null) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const current = child;
    if (current === undefined || current.exitCode !== null) return;
    await command(port, "SHUTDOWN SAVE", 5_000);
    const bound = setTimeout(() => current.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(bound);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    dispose: async () => {
      if (child !== undefined && child.exitCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
