/**
 * Ids placed into platform URLs. A conversation id or part id is one path segment: `.` and `..`
 * survive `encodeURIComponent` and would be resolved away by the URL parser (`/conversations/../reply`
 * becomes `/reply`), so such ids are refused before any request is made.
 */
import { checkConversationId } from "../conversation-id.js";
import { PayloadError, PermanentDeliveryError } from "../errors.js";

/**
 * The conversation id, checked with {@link checkConversationId} and percent-encoded for a path.
 * @throws PermanentDeliveryError (not retried: the id will not become valid) naming the platform.
 */
export function conversationSegment(platform: string, conversationId: string): string {
  try {
    return encodeURIComponent(checkConversationId(conversationId));
  } catch (error) {
    throw refused(platform, error);
  }
}

/**
 * A platform-assigned id (a note's part id) as a path segment: any non-empty string but `.`
 * and `..`, percent-encoded. @throws PermanentDeliveryError naming the platform.
 */
export function idSegment(platform: string, id: string, field: string): string {
  if (typeof id !== "string" || id === "" || id === "." || id === "..") {
    throw new PermanentDeliveryError(`${platform}: invalid ${field}: must be a non-empty string other than "." and ".."`);
  }
  return encodeURIComponent(id);
}

function refused(platform: string, error: unknown): unknown {
  if (!(error instanceof PayloadError)) return error;
  return new PermanentDeliveryError(`${platform}: invalid conversation id: ${error.reason}`, { cause: error });
}
