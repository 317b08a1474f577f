/** Structured JSON logs, one object per line, with secrets redacted. */

export type LogLevel = "debug" | "info" | "warn" | "error";

/** The logger the bridge passes around; also fits the writer's `logger` option. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /token|secret|password|authorization|signature|api[_-]?key/i;

/**
 * Replaces secrets before anything is written: values under secret-looking keys, every known
 * secret value wherever it appears in a string, and credentials in URLs.
 */
export function redact(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === "string") {
    let out = value.replace(/\/\/([^:@/\s]*):[^@/\s]*@/g, "//$1:***@");
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("***");
    return out;
  }
  if (value instanceof Error) return redact(value.message, secrets, depth);
  if (value === null || typeof value !== "object" || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? "***" : redact(v, secrets, depth + 1);
  return out;
}

/** A logger writing JSON lines to `write` (stderr by default), dropping levels below `level`. */
export function createJsonLogger(options: {
  level?: LogLevel;
  secrets?: readonly string[];
  write?: (line: string) => void;
  now?: () => number;
} = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const secrets = (options.secrets ?? []).filter((s) => s !== "");
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const record = { time: new Date(now()).toISOString(), level, message: redact(message, secrets), ...(redact(fields ?? {}, secrets) as object) };
    write(`${JSON.stringify(record)}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
