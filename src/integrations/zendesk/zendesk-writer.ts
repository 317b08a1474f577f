import { PermanentDeliveryError, RetryableDeliveryError } from "../../errors.js";
import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import { optionalMs, requestTimeoutOf, requireBaseUrl, requireText, type PlatformWriterOptions } from "../config.js";
import { isGoneStatus, platformRequest, type PlatformRequest } from "../http-status.js";
import { conversationSegment } from "../url-path.js";
import {
  MAX_COMMENT_PAGES, hasUnredactedText, htmlBodyIn, isClosedTicketAnswer, nextCursor, parseZendeskPartId, redactedHtmlOf,
  wrapForRedaction, zendeskPartId, type CommentPage,
} from "./zendesk-redaction.js";

/** Options of {@link ZendeskWriter}: the writer's options plus the Zendesk account's API token. */
export interface ZendeskWriterOptions extends PlatformWriterOptions {
  /** The account's root, e.g. `https://acme.zendesk.com` (without `/api/v2`). Required. */
  apiBase: string;
  /** Email of the agent the API token belongs to; notes are authored by this agent. Required. */
  email: string;
  /** A Zendesk API token. Required. */
  apiToken: string;
  /**
   * Least time between two updates of one ticket, in ms. Zendesk allows 30 updates per ticket per
   * 10 minutes; a post held back by this waits (without spending retry budget) while later
   * actions keep joining it, so nothing is dropped. Kept per process: instances sharing work
   * through Redis each space their own posts. 0 disables it. @default 20_000
   */
  minSpacingMs?: number;
}

const PLATFORM = "Zendesk";

/**
 * Posts each note as a private comment on a Zendesk ticket (`PUT /api/v2/tickets/{id}.json`,
 * always `public: false`), at most one per ticket per `minSpacingMs`; redacts through
 * `PUT /api/v2/comment_redactions/{comment_id}.json` (see zendesk-redaction.ts). The conversation
 * id is the ticket id; a note's part id is `"<ticket id>:<comment id>"`.
 *
 * - **At-least-once.** Zendesk has no idempotency key for ticket updates: a retry after an
 *   unknown outcome (a timeout, a reset connection) can add the comment twice.
 * - **Closed tickets** cannot be updated or reopened (422 "closed prevents ticket update"): like a
 *   deleted ticket (404/410) that is a `ConversationGoneError`, so the session is unlinked instead
 *   of dead-lettering every later note.
 * - **Redaction needs Agent Workspace**: an answer that still shows the text is a permanent
 *   failure (retrying would remove nothing either); an answer without the comment is retryable
 *   (redaction is idempotent: the retry re-reads the comment and skips it once it is all ▇).
 */
export class ZendeskWriter extends BaseChatbotWriter {
  readonly #base: string;
  readonly #apiToken: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #minSpacingMs: number;
  /** Ticket id → when its last update started (writer clock, epoch ms); oldest first. */
  readonly #lastUpdate = new Map<string, number>();
  readonly #requestTimeoutMs: number;

  constructor(options: ZendeskWriterOptions) {
    super(options);
    this.#base = requireBaseUrl("apiBase", options.apiBase);
    const email = requireText("email", options.email);
    this.#apiToken = requireText("apiToken", options.apiToken);
    this.#minSpacingMs = optionalMs("minSpacingMs", options.minSpacingMs, 20_000);
    this.#requestTimeoutMs = requestTimeoutOf(options);
    this.#headers = {
      Authorization: `Basic ${Buffer.from(`${email}/token:${this.#apiToken}`).toString("base64")}`,
      "Content-Type": "application/json",
      Accept: "application/json",
    };
  }

  protected override async postNote(ticketId: string, body: string, context: PostContext): Promise<string | null> {
    const url = `${this.#base}/api/v2/tickets/${conversationSegment(PLATFORM, ticketId)}.json`;
    const started = this.#reserveSlot(ticketId);
    let answer: unknown;
    try {
      answer = await this.#call({
        method: "PUT",
        url,
        json: { ticket: { comment: { body, public: false } } },
        signal: context.signal,
        isGone: (status, reply) => isGoneStatus(status) || isClosedTicketAnswer(status, reply),
      });
    } catch (error) {
      // A refusal (other than 429) updated nothing, so it should not delay the retry. A timeout or
      // a dropped connection may have landed, and a 429 says to wait anyway: keep the slot then.
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status === "number" && status !== 429 && this.#lastUpdate.get(ticketId) === started) {
        this.#lastUpdate.delete(ticketId);
      }
      throw error;
    }
    const events = (answer as { audit?: { events?: unknown } } | undefined)?.audit?.events;
    const comment = Array.isArray(events) ? (events as Array<{ type?: unknown; id?: unknown } | null>).find((e) => e?.type === "Comment") : undefined;
    const id = comment?.id;
    return (typeof id === "number" && Number.isInteger(id)) || (typeof id === "string" && /^\d+$/.test(id)) ? zendeskPartId(ticketId, String(id)) : null;
  }

  protected override async redactPart(ticketId: string, partId: string): Promise<void> {
    const ids = parseZendeskPartId(partId, ticketId);
    if (ids === undefined) throw new PermanentDeliveryError(`${PLATFORM}: part id is not "<ticket id>:<comment id>"`);
    const html = await this.#commentHtml(ids.ticketId, ids.commentId);
    // The ticket or the comment is gone, or the comment is all ▇ already: nothing left to remove.
    if (html === undefined) return;
    const wrapped = wrapForRedaction(html);
    if (!wrapped.includes("<redact>")) return;
    let missing = false;
    const answer = await this.#call({
      method: "PUT",
      url: `${this.#base}/api/v2/comment_redactions/${ids.commentId}.json`,
      json: { ticket_id: /^\d+$/.test(ids.ticketId) ? Number(ids.ticketId) : ids.ticketId, html_body: wrapped },
      isDone: (status) => {
        missing = isGoneStatus(status);
        return missing;
      },
    });
    if (missing) return;
    const redacted = redactedHtmlOf(answer);
    if (redacted === undefined) {
      throw new RetryableDeliveryError(`${PLATFORM} answered the redaction of comment ${ids.commentId} without the comment: not verified`);
    }
    if (hasUnredactedText(redacted)) {
      throw new PermanentDeliveryError(`${PLATFORM} kept the text of comment ${ids.commentId} after redaction (comment redaction needs Agent Workspace)`);
    }
  }

  /** The comment's `html_body`, newest comments first; undefined when the ticket or the comment is gone. */
  async #commentHtml(ticketId: string, commentId: string): Promise<string | undefined> {
    const ticket = conversationSegment(PLATFORM, ticketId);
    let cursor: string | undefined;
    for (let page = 0; page < MAX_COMMENT_PAGES; page++) {
      const after = cursor === undefined ? "" : `&page%5Bafter%5D=${encodeURIComponent(cursor)}`;
      let missing = false;
      const answer = (await this.#call({
        method: "GET",
        url: `${this.#base}/api/v2/tickets/${ticket}/comments.json?sort_order=desc&page%5Bsize%5D=100${after}`,
        isDone: (status) => {
          missing = isGoneStatus(status);
          return missing;
        },
      })) as CommentPage | undefined;
      if (missing) return undefined;
      const html = htmlBodyIn(answer, commentId);
      if (html !== undefined) return html;
      cursor = nextCursor(answer);
      if (cursor === undefined) return undefined;
    }
    return undefined;
  }

  /**
   * Claims this ticket's next update slot, or throws a throttling error with the time left: the
   * writer waits that long, keeps coalescing, and calls again. Returns the claim's time.
   */
  #reserveSlot(ticketId: string): number {
    const now = this.options.now();
    if (this.#minSpacingMs === 0) return now;
    const last = this.#lastUpdate.get(ticketId);
    if (last !== undefined && now - last < this.#minSpacingMs) {
      // Capped: a clock that stepped back must not hold a ticket for longer than one spacing.
      const retryAfterMs = Math.min(this.#minSpacingMs, last + this.#minSpacingMs - now);
      throw new RetryableDeliveryError(`${PLATFORM} ticket ${ticketId}: next update allowed in ${retryAfterMs} ms`, { retryAfterMs, throttled: true });
    }
    // Re-inserting keeps the map ordered by time, so the sweep stops at the first recent entry.
    this.#lastUpdate.delete(ticketId);
    for (const [id, at] of this.#lastUpdate) {
      if (now - at < this.#minSpacingMs) break;
      this.#lastUpdate.delete(id);
    }
    this.#lastUpdate.set(ticketId, now);
    return now;
  }

  #call(request: Omit<PlatformRequest, "headers" | "secrets" | "timeoutMs">): Promise<unknown> {
    const full = { ...request, headers: this.#headers, secrets: [this.#apiToken], timeoutMs: this.#requestTimeoutMs };
    return platformRequest(PLATFORM, full, this.options.now);
  }
}
