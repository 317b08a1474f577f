/**
 * The real CLI (`node dist/cli/main.js serve`) as a child process, with more control than
 * test/support/bridge-process.ts: several signals, the exit status, a start that is expected to
 * fail, and log lines to search. Every process started here is remembered and killed (by pid) at
 * the end of the run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../../dist/cli/main.js", import.meta.url));

/** One JSON log line of the bridge (non-JSON stderr lines become `{ level: "raw", message }`). */
export type LogLine = Record<string, unknown>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Bridge {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly exited: Promise<Exit>;
  /** Sends a signal (no-op once exited). */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<Exit>;
  /** Log lines whose message matches. */
  find(message: RegExp): LogLine[];
}

const live = new Set<ChildProcess>();

/** Kills every bridge process this run started that is still alive. */
export function killAllBridges(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  live.clear();
}

interface Spawned {
  child: ChildProcess;
  logs: LogLine[];
  exited: Promise<Exit>;
  listening: Promise<string | undefined>;
}

function spawnBridge(env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const logs: LogLine[] = [];
  let resolveUrl: (url: string | undefined) => void = () => undefined;
  const listening = new Promise<string | undefined>((resolve) => (resolveUrl = resolve));
  let buffered = "";
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let record: LogLine;
      try {
        const parsed = JSON.parse(line) as unknown;
        record = parsed !== null && typeof parsed === "object" ? (parsed as LogLine) : { level: "raw", message: line };
      } catch {
        record = { level: "raw", message: line };
      }
      logs.push(record);
      if (typeof record.message === "string" && /listening/.test(record.message) && typeof record.url === "string") resolveUrl(record.url);
    }
  };
  child.stderr?.on("data", onData);
  child.stdout?.on("data", onData);
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolveUrl(undefined);
      resolve({ code, signal });
    }),
  );
  return { child, logs, exited, listening };
}

function handle(spawned: Spawned, url: string): Bridge {
  const { child, logs, exited } = spawned;
  return {
    url,
    child,
    logs,
    exited,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
    find: (message) => logs.filter((l) => typeof l.message === "string" && message.test(l.message)),
  };
}

/** Starts a bridge and resolves once it listens. @throws when it exits or stays silent for `timeoutMs` */
export async function startBridge(env: Record<string, string>, timeoutMs = 15_000): Promise<Bridge> {
  const spawned = spawnBridge(env);
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    spawned.listening,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (url === undefined) {
    spawned.child.kill("SIGKILL");
    throw new Error(`bridge did not start: ${JSON.stringify(spawned.logs.slice(-4))}`);
  }
  return handle(spawned, url);
}

/** Starts a bridge that should refuse its configuration: how it ended, or that it listened. */
export async function tryStart(env: Record<string, string>, timeoutMs = 10_000): Promise<{ listened: boolean; exit: Exit | undefined; logs: LogLine[] }> {
  const spawned = spawnBridge(env);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    spawned.listening.then((url) => (url === undefined ? ("exited" as const) : ("listening" as const))),
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === "exited") return { listened: false, exit: await spawned.exited, logs: spawned.logs };
  spawned.child.kill("SIGKILL");
  await spawned.exited;
  return { listened: outcome === "listening", exit: undefined, logs: spawned.logs };
}
