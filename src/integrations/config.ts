/**
 * Validation shared by the platform writers' options. Messages name the option and what was
 * wrong, but never repeat the value: these options are tokens and URLs that may carry credentials.
 */
import { checkNumber } from "../option-checks.js";
import type { ChatbotWriterOptions } from "../writer/options.js";

/** Options every platform writer takes besides the writer's own. */
export interface PlatformWriterOptions extends ChatbotWriterOptions {
  /**
   * Longest one HTTP request to the platform may take (connect, answer and body), in ms. Not
   * the writer's `postTimeoutMs`: past that the writer only warns and keeps waiting, since a slow
   * call may still be accepted; this bound is what makes a hung request settle at last (as a
   * retryable failure whose outcome is unknown). Keep it well above `postTimeoutMs`.
   * @default 30_000
   */
  requestTimeoutMs?: number;
}

/** Default of {@link PlatformWriterOptions.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** `requestTimeoutMs` resolved: a delay from 1 ms to Node's timer limit. @throws TypeError naming it. */
export function requestTimeoutOf(options: PlatformWriterOptions): number {
  return checkNumber("requestTimeoutMs", options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 1);
}

/** The option as a non-empty string. @throws TypeError naming the option. */
export function requireText(name: string, value: unknown): string {
  if (typeof value === "string" && value.trim() !== "") return value;
  const got = typeof value === "string" ? "an empty string" : value === null ? "null" : typeof value;
  throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${got}`);
}

/**
 * The option as an http(s) base URL without trailing slashes, so paths can be appended.
 * @throws TypeError naming the option.
 */
export function requireBaseUrl(name: string, value: unknown): string {
  const text = requireText(name, value).trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") || url.search !== "" || url.hash !== "") {
    throw new TypeError(`Expected \`${name}\` to be an http(s) URL without query or fragment, e.g. "https://api.example.com"`);
  }
  return text.replace(/\/+$/, "");
}

/** The option as a finite number ≥ 0, or `fallback` when undefined. @throws TypeError naming the option. */
export function optionalMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  throw new TypeError(`Expected \`${name}\` to be a finite number of ms ≥ 0, got ${typeof value === "number" ? String(value) : typeof value}`);
}
