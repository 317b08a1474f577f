import { PayloadError } from "./errors.js";

/** Longest conversation id accepted, in characters (platform ids are far shorter). */
export const MAX_CONVERSATION_ID_LENGTH = 256;

/**
 * Checks a conversation id where it enters (webhooks, `/links`, `onSessionLinked`): a non-empty
 * string of at most {@link MAX_CONVERSATION_ID_LENGTH} characters, not `.` or `..`, without `/`,
 * `\`, `?`, `#`, `%` or control characters. Writers put ids into URL paths: such characters could
 * escape or change the path. Writers still percent-encode every id they place in a URL.
 * @returns the id
 * @throws PayloadError naming `field` and what was wrong
 */
export function checkConversationId(id: unknown, field = "conversation_id"): string {
  const problem = conversationIdProblem(id, field);
  if (problem !== null) throw problem;
  return id as string;
}

/** The error {@link checkConversationId} would throw for `id`, or null when it is valid. */
export function conversationIdProblem(id: unknown, field = "conversation_id"): PayloadError | null {
  if (typeof id !== "string" || id === "") return new PayloadError(`${field} is required (a non-empty string)`);
  if (id.length > MAX_CONVERSATION_ID_LENGTH) return new PayloadError(`${field} is longer than ${MAX_CONVERSATION_ID_LENGTH} characters`);
  if (id === "." || id === "..") return new PayloadError(`${field} must not be "." or ".."`);
  // eslint-disable-next-line no-control-regex
  if (/[/\\?#%\u0000-\u001f\u007f\u2028\u2029]/.test(id)) {
    return new PayloadError(`${field} must not contain "/", "\\", "?", "#", "%" or control characters`);
  }
  return null;
}

/** Whether {@link checkConversationId} accepts `id`. */
export function isValidConversationId(id: unknown): id is string {
  return conversationIdProblem(id) === null;
}
