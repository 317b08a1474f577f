/**
 * Whether a failed platform call may nevertheless have landed. A platform that answered (an
 * error with a numeric HTTP `status`: 429, 5xx, 4xx) refused the note; a hold the writer put on
 * itself (`throttled`) never sent it. Anything else — a reset connection, a network error, a
 * subclass's bare throw — leaves the outcome unknown, so the note must be retried as it was,
 * under the same idempotency key, or the platform could end up with two different notes holding
 * the same actions.
 */
export function mayHaveLanded(error: unknown): boolean {
  if (error === null || typeof error !== "object") return true;
  const e = error as { status?: unknown; throttled?: unknown };
  if (e.throttled === true) return false;
  return !(typeof e.status === "number" && Number.isFinite(e.status));
}
