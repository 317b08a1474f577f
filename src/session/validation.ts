/**
 * Small checks shared by the session and store constructors. Each failure is a `TypeError` that
 * names the option, says what was expected and shows what came, so a bad config is obvious at
 * construction rather than at the first timeout.
 */

const MAX_SHOWN = 60;

/** A short, safe rendering of an unexpected value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string": {
      const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
      return value === "" ? "an empty string" : JSON.stringify(shown);
    }
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "undefined":
      return "undefined";
    case "object":
      return value instanceof Date ? "a Date" : "an object";
    default:
      return `a ${typeof value}`;
  }
}

/** Throws the library's standard option `TypeError`. */
export function invalidOption(name: string, expected: string, got: unknown): never {
  throw new TypeError(`${name} must be ${expected}, got ${describeValue(got)}`);
}

/** Requires a non-empty string. */
export function requireNonEmptyString(name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") invalidOption(name, "a non-empty string", value);
  return value;
}

/** Requires a finite duration in milliseconds, `>= 0` (or `> 0` when `positive`). */
export function requireDurationMs(name: string, value: unknown, positive = false): number {
  const ok = typeof value === "number" && Number.isFinite(value) && (positive ? value > 0 : value >= 0);
  if (!ok) invalidOption(name, `a finite number of milliseconds ${positive ? "> 0" : ">= 0"}`, value);
  return value;
}

/** Requires a function (used for injected clocks). */
export function requireFunction<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== "function") invalidOption(name, "a function", value);
  return value as T;
}

/** Whether `value` is a non-null, non-array object whose prototype is `Object.prototype` or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A shallow copy of a plain record without any own `__proto__` key: such a key (JSON.parse makes
 * them) would otherwise be written back through the prototype setter by the next `obj[key] = v`.
 */
export function copyRecord(name: string, value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) invalidOption(name, "a plain object", value);
  const copy: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key !== "__proto__") copy[key] = entry;
  }
  return copy;
}
