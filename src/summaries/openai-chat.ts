/**
 * A summary LLM on any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama,
 * llama.cpp, …): `POST {baseUrl}/chat/completions`, plain `fetch`, no dependency.
 */
import { AutoplayError } from "../errors.js";
import { checkNumber } from "../option-checks.js";
import type { SummaryLlm } from "./session-summarizer.js";

/** Options of {@link openAiChatLlm}. Times are milliseconds. */
export interface OpenAiChatOptions {
  /** e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`; `/chat/completions` is appended. Required. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** The `model` field. Required. */
  model: string;
  /** The system message. @default a short instruction to summarize for a support agent */
  system?: string;
  temperature?: number;
  maxTokens?: number;
  /** One request's bound; local servers are often slow. @default 60_000 */
  timeoutMs?: number;
  /** Requests per summary: a 429, a 5xx, a network error or a timeout is tried again. @default 3 */
  maxAttempts?: number;
  /** Backoff before the 2nd attempt; doubles per attempt. @default 1_000 */
  baseDelayMs?: number;
  /** Longest `Retry-After` honoured (a longer one fails the call; the next trigger tries again). @default 60_000 */
  maxRetryAfterMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** An LLM request that failed; `status` is the HTTP status when the endpoint answered. */
export class LlmRequestError extends AutoplayError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super("LLM_REQUEST_FAILED", message, { cause: options.cause });
    this.status = options.status;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const DEFAULT_SYSTEM = "You summarize a web app user's recent actions for the support agent who is about to answer them. Be brief and factual.";

/**
 * Returns a {@link SummaryLlm} for a `SessionSummarizer`. The answer is
 * `choices[0].message.content`. 400/401/403/404 fail at once; 429 (waiting for `Retry-After`),
 * 5xx, network errors and timeouts are retried with backoff, up to `maxAttempts`.
 * @throws TypeError naming the first invalid option.
 */
export function openAiChatLlm(options: OpenAiChatOptions): SummaryLlm {
  if (options === null || typeof options !== "object") throw new TypeError("Expected OpenAI chat options to be an object");
  let url: URL;
  try {
    url = new URL(`${String(options.baseUrl).replace(/\/+$/, "")}/chat/completions`);
  } catch {
    throw new TypeError(`Expected \`baseUrl\` to be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("Expected `baseUrl` to be an http(s) URL");
  if (typeof options.model !== "string" || options.model === "") throw new TypeError(`Expected \`model\` to be a non-empty string, got ${JSON.stringify(options.model)}`);
  const timeoutMs = checkNumber("timeoutMs", options.timeoutMs ?? 60_000, 1);
  const maxAttempts = checkNumber("maxAttempts", options.maxAttempts ?? 3, 1, true, 100);
  const baseDelayMs = checkNumber("baseDelayMs", options.baseDelayMs ?? 1_000, 0);
  const maxRetryAfterMs = checkNumber("maxRetryAfterMs", options.maxRetryAfterMs ?? 60_000, 0);
  const doFetch = options.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  const secret = options.apiKey;
  const request = (prompt: string): string =>
    JSON.stringify({
      model: options.model,
      messages: [
        { role: "system", content: options.system ?? DEFAULT_SYSTEM },
        { role: "user", content: prompt },
      ],
      ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
    });

  return async (prompt, context) => {
    const body = request(prompt);
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(doFetch, url, headers, body, timeoutMs, context?.signal, secret);
      } catch (error) {
        const e = error instanceof LlmRequestError ? error : new LlmRequestError(String(error), { retryable: false, cause: error });
        if (!e.retryable || attempt >= maxAttempts || context?.signal.aborted === true) throw e;
        if (e.retryAfterMs !== undefined && e.retryAfterMs > maxRetryAfterMs) throw e;
        const backoff = baseDelayMs * 2 ** (attempt - 1);
        await sleep(Math.max(backoff, e.retryAfterMs ?? 0), context?.signal);
      }
    }
  };
}

async function once(
  doFetch: typeof fetch,
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  secret: string | undefined,
): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let response: Response;
  try {
    response = await doFetch(url, { method: "POST", headers, body, signal: controller.signal });
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      const status = response.status;
      const retryable = status === 429 || status >= 500 || status === 408;
      throw new LlmRequestError(`LLM endpoint answered ${status}: ${redact(text.slice(0, 200), secret)}`, {
        status, retryable, retryAfterMs: retryAfter(response.headers.get("retry-after")),
      });
    }
    const answer = (await response.json()) as { choices?: Array<{ message?: { content?: unknown } }> };
    const content = answer?.choices?.[0]?.message?.content;
    if (typeof content !== "string") throw new LlmRequestError("LLM answer has no choices[0].message.content", { retryable: false });
    return content;
  } catch (error) {
    if (error instanceof LlmRequestError) throw error;
    const reason = controller.signal.aborted ? String((controller.signal.reason as Error | undefined)?.message ?? "aborted") : error instanceof Error ? error.message : String(error);
    throw new LlmRequestError(`LLM request failed: ${redact(reason, secret)}`, { retryable: signal?.aborted !== true, cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** `Retry-After` in seconds or as an HTTP date, in ms. */
function retryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join("***") : text;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.min(ms, 2_147_483_647));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
