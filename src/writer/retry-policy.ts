import { ConversationGoneError, PermanentDeliveryError } from "../errors.js";
import { MAX_TIMER_MS } from "../option-checks.js";
import type { RetryOptions } from "./options.js";

/** What to do after a failed post. */
export type RetryDecision =
  /** `counted` false: a self-imposed hold (throttling), not a failure; the budget is untouched. */
  | { kind: "retry"; delayMs: number; counted: boolean }
  | { kind: "give-up"; reason: "retries_exhausted" | "permanent_error" | "conversation_gone" | "hold_expired" };

/**
 * Reads a platform's retry hint from any thrown value: a numeric `retryAfterMs` property (our
 * {@link RetryableDeliveryError}, or a plain error from a JavaScript subclass).
 */
export function retryAfterHint(error: unknown): number | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const hint = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof hint === "number" && Number.isFinite(hint) && hint >= 0 ? hint : undefined;
}

function isPermanent(error: unknown): boolean {
  if (error instanceof PermanentDeliveryError) return true;
  return error !== null && typeof error === "object" && (error as { permanent?: unknown }).permanent === true;
}

/**
 * Capped exponential backoff with jitter. A platform's hint (`Retry-After`, rate-limit reset)
 * wins over the computed backoff when longer (capped at `maxRetryAfterMs`): retrying before a
 * rate-limit reset only earns another 429. A throttled hold (the writer's own spacing) spends no
 * budget while the note has been held less than `maxHoldMs` (`heldForMs` so far); past that it
 * counts like a failure, so no note is held forever. Every delay fits Node's timer limit.
 */
export function decideRetry(
  error: unknown,
  failedAttempts: number,
  policy: Readonly<Required<RetryOptions>>,
  random: () => number,
  heldForMs = 0,
  maxHoldMs = Number.POSITIVE_INFINITY,
): RetryDecision {
  if (error instanceof ConversationGoneError) return { kind: "give-up", reason: "conversation_gone" };
  if (isPermanent(error)) return { kind: "give-up", reason: "permanent_error" };
  if (isThrottled(error) && heldForMs < maxHoldMs) {
    const hold = Math.min(retryAfterHint(error) ?? policy.baseDelayMs, policy.maxRetryAfterMs, MAX_TIMER_MS);
    return { kind: "retry", delayMs: Math.max(1, Math.round(hold)), counted: false };
  }
  if (failedAttempts >= policy.maxAttempts) return { kind: "give-up", reason: isThrottled(error) ? "hold_expired" : "retries_exhausted" };
  const exponential = policy.baseDelayMs * 2 ** (failedAttempts - 1);
  const jittered = Math.min(policy.maxDelayMs, exponential * (1 - policy.jitter + 2 * policy.jitter * random()));
  const hint = Math.min(retryAfterHint(error) ?? 0, policy.maxRetryAfterMs);
  const delayMs = Math.min(Math.max(jittered, hint), MAX_TIMER_MS);
  return { kind: "retry", delayMs: Math.round(delayMs), counted: true };
}

function isThrottled(error: unknown): boolean {
  return error !== null && typeof error === "object" && (error as { throttled?: unknown }).throttled === true;
}
