/**
 * Zendesk comment redaction (`PUT /api/v2/comment_redactions/{comment_id}`). The API removes only
 * the text wrapped in `<redact>…</redact>` inside the comment's own `html_body` (a request without
 * the tags removes nothing), and answers with the comment, its redacted characters turned into ▇.
 *
 * The `html_body` is fetched when redacting (`GET /api/v2/tickets/{ticket}/comments.json`), not
 * remembered from the post: part ids live in Redis and redactions may run on another instance or
 * after a restart, where nothing of this process's memory is left, and storing each note's HTML
 * beside its part id would copy every note into Redis. Comments are immutable, so the fetched
 * `html_body` is the one the post produced. The part id carries the ticket id for the same
 * reason: `"<ticket id>:<comment id>"`, so a note is redacted where it was posted even after the
 * session moved to another ticket (a bare comment id, as recorded by earlier versions, is read
 * as a comment of the ticket the redaction names).
 */

/** Redaction mark Zendesk puts in place of each removed character. */
export const REDACTED_CHAR = "▇";

/** Most comment pages read to find one comment: 5000 comments per ticket at 100 per page. */
export const MAX_COMMENT_PAGES = 50;

/** The part id recorded for a comment. */
export function zendeskPartId(ticketId: string, commentId: string): string {
  return `${ticketId}:${commentId}`;
}

/** A part id split into its ticket and comment; undefined when it is not one of ours. */
export function parseZendeskPartId(partId: string, fallbackTicketId: string): { ticketId: string; commentId: string } | undefined {
  const at = partId.lastIndexOf(":");
  const ticketId = at === -1 ? fallbackTicketId : partId.slice(0, at);
  const commentId = partId.slice(at + 1);
  return /^\d+$/.test(commentId) && ticketId !== "" ? { ticketId, commentId } : undefined;
}

/**
 * The comment's `html_body` with every piece of text wrapped in `<redact>` and links and images
 * marked with the `redact` attribute (Zendesk links URLs in plain-text comments: the `href`
 * would survive otherwise). Text that is already only ▇ and whitespace is left as it is, so the
 * result has no `<redact>` at all when the comment is fully redacted already.
 */
export function wrapForRedaction(html: string): string {
  return html
    .split(/(<[^>]*>)/)
    .map((piece) => {
      if (piece.startsWith("<")) return /^<(a|img)\b/i.test(piece) && !/\sredact\b/i.test(piece) ? piece.replace(/^<(\w+)/, "<$1 redact") : piece;
      return hasText(piece) ? `<redact>${piece}</redact>` : piece;
    })
    .join("");
}

/** Whether some of the HTML's text is neither ▇ nor whitespace (tags ignored). */
export function hasUnredactedText(html: string): boolean {
  return html.split(/<[^>]*>/).some(hasText);
}

function hasText(text: string): boolean {
  return /[^\s\u00a0▇]/.test(text.replace(/&nbsp;/g, " "));
}

/** One page of `GET /api/v2/tickets/{id}/comments.json`, as far as we read it. */
export interface CommentPage {
  comments?: Array<{ id?: unknown; html_body?: unknown } | null>;
  meta?: { has_more?: unknown; after_cursor?: unknown };
}

/** The `html_body` of `commentId` in a page, if the page lists it. */
export function htmlBodyIn(page: CommentPage | undefined, commentId: string): string | undefined {
  const comment = page?.comments?.find((c) => c !== null && String(c.id) === commentId);
  return typeof comment?.html_body === "string" ? comment.html_body : undefined;
}

/** The cursor of the next page, when there is one. */
export function nextCursor(page: CommentPage | undefined): string | undefined {
  const cursor = page?.meta?.after_cursor;
  return page?.meta?.has_more === true && typeof cursor === "string" && cursor !== "" ? cursor : undefined;
}

/** The redacted comment's HTML from a redaction answer (`{comment: {html_body}}`), if present. */
export function redactedHtmlOf(answer: unknown): string | undefined {
  const comment = (answer as { comment?: { html_body?: unknown; body?: unknown } | null } | undefined)?.comment;
  if (typeof comment?.html_body === "string") return comment.html_body;
  return typeof comment?.body === "string" ? comment.body : undefined;
}

/**
 * Whether a 422 answer to a ticket update says the ticket is closed. Zendesk answers
 * `{"error":"RecordInvalid","description":"Record validation errors","details":{"status":[{"description":
 * "Status: closed prevents ticket update"}]}}` (the key is sometimes `base`, some entries carry
 * `"error":"ClosedTicket"`); a closed ticket can never be updated or reopened.
 */
export function isClosedTicketAnswer(status: number, answer: unknown): boolean {
  if (status !== 422 || answer === null || typeof answer !== "object") return false;
  const details = (answer as { details?: unknown }).details;
  return /closed prevents ticket update|"ClosedTicket"|closed_prevents_ticket_update/i.test(JSON.stringify(details ?? null));
}
