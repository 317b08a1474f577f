/**
 * Child Node processes for tests of the built package (dist/): the CLI, and what each entry point
 * loads. `blocking` makes packages unresolvable in the child (a module resolve hook answering
 * ERR_MODULE_NOT_FOUND, as Node does for a package that is not installed).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (two levels up from src/server/test-support is src; three is the root). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = join(ROOT, "dist/cli/main.js");

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes a `--import` module that registers the resolve hook; returns its path. */
export function blockingHook(packages: readonly string[]): string {
  const hook = `
const blocked = ${JSON.stringify(packages)};
export async function resolve(specifier, context, next) {
  if (blocked.some((name) => specifier === name || specifier.startsWith(name + "/"))) {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}`;
  const path = join(mkdtempSync(join(tmpdir(), "autoplay-hook-")), "block.mjs");
  writeFileSync(path, `import { register } from "node:module";\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`);
  return path;
}

/** Runs `node [--import hook] ...args` to its exit (SIGKILL after `timeoutMs`). */
export function runNode(args: readonly string[], options: { env?: Record<string, string>; blocking?: readonly string[]; timeoutMs?: number; cwd?: string } = {}): Promise<ChildResult> {
  const prefix = options.blocking === undefined ? [] : ["--import", blockingHook(options.blocking)];
  const child = spawn(process.execPath, [...prefix, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 15_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Runs the built CLI with `args` and only `env` (plus PATH). */
export function runCli(args: readonly string[], env: Record<string, string> = {}, blocking?: readonly string[]): Promise<ChildResult> {
  return runNode([CLI, ...args], { env, blocking });
}
