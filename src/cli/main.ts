#!/usr/bin/env node
/**
 * `autoplay-bridge serve`: the runnable bridge. Settings come from environment variables, each
 * also a flag (`PORT` ↔ `--port`); see `autoplay-bridge --help`.
 */
import { parseArgs } from "node:util";
import { startBridge } from "./bridge.js";
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
  return ["Usage: autoplay-bridge serve [--demo] [flags]", "", "  --demo                         replay a recorded stream of 4 users into the embedded inbox, looping (open http://127.0.0.1:8787/)", "", "Each flag may instead be given as the environment variable beside it:", ...rows, ""].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      demo: { type: "boolean" },
      ...Object.fromEntries(NAMES.map((name) => [flagOf(name).slice(2), { type: "string" as const }])),
    },
  });
  if (values.help === true || positionals[0] !== "serve") {
    process.stdout.write(usage());
    return values.help === true ? 0 : 2;
  }
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`autoplay-bridge: invalid setting ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`autoplay-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof TypeError && /Unknown option|argument/.test(error.message) ? 2 : 1);
  },
);
