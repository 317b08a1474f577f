#!/usr/bin/env node
/**
 * `autoplay-bridge serve`: the runnable bridge. Settings come from environment variables, each
 * also a flag (`PORT` ↔ `--port`); see `autoplay-bridge --help`.
 */
import { parseArgs } from "node:util";
import { startBridge } from "./bridge.js";
import { packageVersion } from "../server/version.js";
import { ConfigError, flagOf, loadConfig, SETTINGS, type SettingName } from "./config.js";

const NAMES = Object.keys(SETTINGS) as SettingName[];

/** Exit code of a forced exit (third signal): the drain did not finish. */
const FORCED_EXIT_CODE = 1;

/** Signal handling logs before and after the bridge's logger exists: plain JSON lines on stderr. */
function log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
}

function usage(): string {
  const rows = NAMES.map((name) => {
    const fallback = SETTINGS[name].default;
    return `  ${flagOf(name).padEnd(30)} ${name.padEnd(28)} ${SETTINGS[name].help}${fallback === undefined ? "" : ` (default ${fallback})`}`;
  });
  return [
    "Usage: autoplay-bridge serve [--demo] [flags]",
    "       autoplay-bridge --version | --help",
    "",
    "  --demo                         replay a recorded stream of 4 users into the embedded inbox, looping (open http://127.0.0.1:8787/)",
    "",
    "Each flag may instead be given as the environment variable beside it:",
    ...rows,
    "",
  ].join("\n");
}

/** A mistake on the command line: said on stderr with the usage, exit code 2. */
class UsageError extends Error {}

/** Flags that take no value, beside one flag per setting. */
const SWITCHES = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  demo: { type: "boolean" },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...SWITCHES, ...Object.fromEntries(NAMES.map((name) => [flagOf(name).slice(2), { type: "string" as const }])) },
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    const flag = /'(?:-\w, )?(-[^' ]*)/.exec(message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown flag ${flag}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(/argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`);
    throw new UsageError(message);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version === true) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (values.help === true || positionals[0] === "help") {
    process.stdout.write(usage());
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no command given");
  if (positionals[0] !== "serve") throw new UsageError(`unknown command ${JSON.stringify(positionals[0])}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])} after serve`);
  const flags = Object.fromEntries(NAMES.map((name) => [name, values[flagOf(name).slice(2) as keyof typeof values] as string | undefined]));
  const config = loadConfig(process.env, flags);
  const bridge = await startBridge(config, { demo: values.demo === true });
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: string) => {
      signals++;
      if (signals === 1) {
        log("info", `received ${signal}: draining (bounded by SHUTDOWN_TIMEOUT_MS)`);
        bridge.close().then(resolve, (error: unknown) => {
          log("error", "shutdown failed", { error: String(error) });
          process.exitCode = 1;
          resolve();
        });
      } else if (signals === 2) {
        // A second Ctrl-C is often impatience: the drain goes on, and only a third one forces exit.
        log("warn", `received ${signal} again: still draining; a third signal forces exit and loses pending work`, bridge.atRisk());
      } else {
        log("error", `received ${signal} a third time: forced exit before the drain finished`, bridge.atRisk());
        process.exit(FORCED_EXIT_CODE);
      }
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
  });
  return process.exitCode === 1 ? 1 : 0;
}

/** Exit code of a mistake in the command line or the settings. */
const USAGE_EXIT_CODE = 2;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`autoplay-bridge: ${error.message}\n\n${usage()}`);
      process.exit(USAGE_EXIT_CODE);
    }
    if (error instanceof ConfigError) {
      // Every bad setting at once, one line each, so a start is fixed in one go.
      const lines = error.problems.map((p) => `autoplay-bridge: invalid setting ${p.setting}: ${p.message}\n`);
      const count = error.problems.length;
      process.stderr.write(`${lines.join("")}autoplay-bridge: ${count} setting${count === 1 ? "" : "s"} to fix (autoplay-bridge --help lists them)\n`);
      process.exit(USAGE_EXIT_CODE);
    }
    process.stderr.write(`autoplay-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
