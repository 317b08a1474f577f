/**
 * The one place where a platform's HTTP answer becomes "delivered", "try again later" or "never":
 * every integration calls {@link platformRequest}, so a 429 or a 404 means the same thing for
 * Intercom, Zendesk and the generic bridge.
 */
import { ConversationGoneError, PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";

/** A request to a platform's JSON API. */
export interface PlatformRequest {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as the JSON body when present. */
  readonly json?: unknown;
  /**
   * The writer's give-up signal (`PostContext.signal`): aborted only when the writer stops waiting
   * for good, at close. Never a `postTimeoutMs` timer: aborting a call the platform may already
   * have accepted turns a slow success into a failure, and its retry into a second note.
   */
  readonly signal?: AbortSignal;
  /**
   * The transport bound, in ms: past it the request is aborted and fails as retryable *without*
   * a status (its outcome is unknown), so a hung connection settles at last.
   */
  readonly timeoutMs: number;
  /** Values to blank out of error messages (tokens, credentials), besides the Authorization header's. */
  readonly secrets?: readonly string[];
  /** Counts a non-2xx answer as success, e.g. redacting a part that is already gone. */
  readonly isDone?: (status: number, body: unknown) => boolean;
  /**
   * Which refusals mean the conversation no longer takes notes (→ `ConversationGoneError`).
   * @default {@link isGoneStatus}: 404 and 410
   */
  readonly isGone?: (status: number, body: unknown) => boolean;
}

/** Longest piece of an error body quoted in a message, in characters. */
const SNIPPET_CHARS = 200;

/** The default "conversation gone" rule: 404 Not Found and 410 Gone. */
export function isGoneStatus(status: number): boolean {
  return status === 404 || status === 410;
}

/**
 * Sends `request` and resolves with the parsed JSON body of a 2xx answer (`undefined` when the
 * body is empty, not JSON, or lost while reading: the platform accepted the call, and failing
 * now would post twice).
 * @throws RetryableDeliveryError / PermanentDeliveryError / ConversationGoneError, see
 *   {@link deliveryErrorFor}; a network failure or the transport timeout is a
 *   RetryableDeliveryError without `status`; an abort of `request.signal` rethrows its reason.
 */
export async function platformRequest(platform: string, request: PlatformRequest, now: () => number): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("request timeout")), request.timeoutMs);
  timer.unref();
  const giveUp = request.signal;
  const onGiveUp = (): void => controller.abort(giveUp?.reason);
  if (giveUp?.aborted === true) onGiveUp();
  else giveUp?.addEventListener("abort", onGiveUp, { once: true });
  let response: Response;
  let text = "";
  try {
    try {
      const init: RequestInit = { method: request.method, headers: request.headers, signal: controller.signal };
      if (request.json !== undefined) init.body = JSON.stringify(request.json);
      response = await fetch(request.url, init);
    } catch (error) {
      throw networkFailure(platform, error, request, controller.signal);
    }
    try {
      // Read even error bodies: they say why, and an unread body keeps the connection busy.
      text = await response.text();
    } catch {
      // Lost mid-body (reset, timeout, give-up), but the status is known: a 2xx was accepted, and
      // failing it would post twice; a refusal is still one.
      text = "";
    }
  } finally {
    clearTimeout(timer);
    giveUp?.removeEventListener("abort", onGiveUp);
  }
  const { status, headers } = response;
  const body = parseJson(text);
  if ((status >= 200 && status < 300) || request.isDone?.(status, body) === true) return body;
  const gone = (request.isGone ?? isGoneStatus)(status, body);
  throw deliveryErrorFor(platform, { status, headers, text }, now(), secretsOf(request), gone);
}

/** A non-2xx answer, reduced to what the mapping reads. */
export interface FailedAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The response body as text; quoted (shortened, secrets removed) in permanent errors. */
  readonly text: string;
}

/**
 * Maps a non-2xx answer to our errors. 429 and 408/409/425/5xx are retryable (with the
 * platform's wait hint, see {@link retryAfterMs}); a "gone" answer (by default 404/410, see
 * {@link isGoneStatus}) is a `ConversationGoneError`; any other status will not change on retry,
 * so it is permanent and quotes the body to say why.
 * @param nowMs the writer's clock, epoch ms (a rate-limit reset is an absolute time).
 * @param gone whether the platform said the conversation no longer takes notes.
 */
export function deliveryErrorFor(
  platform: string,
  answer: FailedAnswer,
  nowMs: number,
  secrets: readonly string[] = [],
  gone = isGoneStatus(answer.status),
): RetryableDeliveryError | PermanentDeliveryError {
  const { status } = answer;
  const retryAfter = retryAfterMs(answer.headers, nowMs);
  const waitHint = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
  if (status === 429) {
    const wait = retryAfter === undefined ? "" : `, retry in ${retryAfter} ms`;
    return new RetryableDeliveryError(`${platform} rate limit hit (429)${wait}`, { status, ...waitHint });
  }
  if (gone) {
    const why = isGoneStatus(status) ? "the conversation does not exist" : `the conversation takes no more notes: ${snippet(answer.text, secrets)}`;
    return new ConversationGoneError(`${platform} answered ${status}: ${why}`, { status });
  }
  if (status === 408 || status === 409 || status === 425 || status >= 500) {
    return new RetryableDeliveryError(`${platform} answered ${status}`, { status, ...waitHint });
  }
  return new PermanentDeliveryError(`${platform} answered ${status}: ${snippet(answer.text, secrets)}`, { status });
}

/**
 * The wait a platform asked for, in ms from `nowMs`: `Retry-After` (delta seconds or an HTTP
 * date), else `X-RateLimit-Reset` (Unix seconds; values too small to be a date are taken as
 * seconds from now, as some stand-ins send). A time already past gives 0.
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - nowMs);
  }
  const reset = Number(headers.get("x-ratelimit-reset")?.trim() || Number.NaN);
  if (!Number.isFinite(reset) || reset < 0) return undefined;
  // One billion seconds is 2001: any real reset time is above it, any delta below.
  return reset < 1e9 ? Math.round(reset * 1000) : Math.max(0, Math.ceil(reset * 1000 - nowMs));
}

/**
 * A fetch that threw. The writer's give-up stays as it is; the transport timeout and anything
 * else (reset, refused, DNS) is retryable without a status: the request may have landed.
 */
function networkFailure(platform: string, error: unknown, request: PlatformRequest, signal: AbortSignal): unknown {
  if (request.signal?.aborted === true) return request.signal.reason;
  if (signal.aborted) {
    return new RetryableDeliveryError(`${platform} did not answer within ${request.timeoutMs} ms (the request may have landed)`, { cause: error });
  }
  // fetch wraps the socket's error ("fetch failed"): the cause has the code worth reporting.
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | null | undefined) : undefined;
  const message = typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : String(error);
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const detail = code === undefined ? message : message.includes(code) ? code : `${code} (${message})`;
  return new RetryableDeliveryError(`${platform} unreachable: ${detail}`, { cause: error });
}

function secretsOf(request: PlatformRequest): string[] {
  const secrets = [...(request.secrets ?? [])];
  const authorization = Object.entries(request.headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
  if (authorization !== undefined) secrets.push(authorization, authorization.replace(/^\S+\s+/, ""));
  return secrets.filter((s) => s.length >= 4);
}

/** The start of an error body on one line, without any of `secrets` (a body may echo a credential). */
function snippet(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) clean = clean.split(secret).join("[redacted]");
  clean = clean.replace(/\s+/g, " ").trim();
  if (clean === "") return "(empty body)";
  return clean.length > SNIPPET_CHARS ? `${clean.slice(0, SNIPPET_CHARS)}…` : clean;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
