/** Option validation shared by every public constructor: a TypeError naming the option. */

/** Node clamps longer timers to 1 ms (with a warning): a "huge" delay would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A finite number (or integer) from `min` to `max`; the default `max` suits a timer delay. */
export function checkNumber(name: string, value: unknown, min: number, integer = false, max = MAX_TIMER_MS): number {
  const ok = typeof value === "number" && Number.isFinite(value) && value >= min && value <= max;
  if (!ok || (integer && !Number.isInteger(value))) {
    const kind = integer ? "an integer" : "a finite number";
    throw new TypeError(`Expected \`${name}\` to be ${kind} from ${min} to ${max}, got ${String(value)} (${typeof value})`);
  }
  return value;
}

export function checkFunction<T>(name: string, value: unknown): T {
  if (typeof value !== "function") throw new TypeError(`Expected \`${name}\` to be a function, got ${typeof value}`);
  return value as T;
}

/** The default logger of library components: JSON lines on stderr. */
export const stderrLogger = {
  info: (message: string, fields?: Record<string, unknown>) => console.error(JSON.stringify({ level: "info", message, ...fields })),
  warn: (message: string, fields?: Record<string, unknown>) => console.error(JSON.stringify({ level: "warn", message, ...fields })),
  error: (message: string, fields?: Record<string, unknown>) => console.error(JSON.stringify({ level: "error", message, ...fields })),
};
