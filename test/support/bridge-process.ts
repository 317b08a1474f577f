/**
 * Runs the real CLI (`node dist/cli/main.js serve`) as a child process for end-to-end tests, on a
 * free port, and reads its JSON logs. Needs a build (`npm test` builds first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface BridgeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Sends `signal` without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once the process exits. */
  readonly exited: Promise<number | null>;
  /** The process's resident set size now, in bytes (Linux /proc). */
  rss(): number;
}

/** Runs the CLI expecting it to exit on its own (e.g. a refused start): its exit code and stderr. */
export async function runBridgeToExit(env: Record<string, string>, timeoutMs = 10_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, "serve"], { env: { PATH: process.env.PATH ?? "", PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export async function startBridgeProcess(env: Record<string, string>, timeoutMs = 10_000): Promise<BridgeProcess> {
  const child = spawn(process.execPath, [MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
    child.stderr?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          record = { level: "raw", message: line };
        }
        logs.push(record);
        if (record.message === "bridge listening") {
          clearTimeout(timer);
          resolve(String(record.url));
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited with ${code} before listening: ${JSON.stringify(logs.slice(-5))}`));
    });
  });
  return {
    url,
    child,
    logs,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
    signal: (signal) => {
      if (child.exitCode === null) child.kill(signal);
    },
    exited,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    },
  };
}
