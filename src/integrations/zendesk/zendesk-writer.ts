import { RetryableDeliveryError } from "../../errors.js";
import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../../writer/options.js";
import { optionalMs, requireBaseUrl, requireText } from "../config.js";
import { platformRequest, type PlatformRequest } from "../http-status.js";

/** Options of {@link ZendeskWriter}: the writer's options plus the Zendesk account's API token. */
export interface ZendeskWriterOptions extends ChatbotWriterOptions {
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
 * `PUT /api/v2/comment_redactions/{comment_id}.json`. The conversation id is the ticket id.
 */
export class ZendeskWriter extends BaseChatbotWriter {
  readonly #base: string;
  readonly #apiToken: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #minSpacingMs: number;
  /** Ticket id → when its last update started (writer clock, epoch ms); oldest first. */
  readonly #lastUpdate = new Map<string, number>();

  constructor(options: ZendeskWriterOptions) {
    super(options);
    this.#base = requireBaseUrl("apiBase", options.apiBase);
    const email = requireText("email", options.email);
    this.#apiToken = requireText("apiToken", options.apiToken);
    this.#minSpacingMs = optionalMs("minSpacingMs", options.minSpacingMs, 20_000);
    this.#headers = {
      Authorization: `Basic ${Buffer.from(`${email}/token:${this.#apiToken}`).toString("base64")}`,
      "Content-Type": "application/json",
      Accept: "application/json",
    };
  }

  protected override async postNote(ticketId: string, body: string, context: PostContext): Promise<string | null> {
    const started = this.#reserveSlot(ticketId);
    let answer: unknown;
    try {
      answer = await this.#call({
        method: "PUT",
        url: `${this.#base}/api/v2/tickets/${encodeURIComponent(ticketId)}.json`,
        json: { ticket: { comment: { body, public: false } } },
        signal: context.signal,
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
    return typeof comment?.id === "number" || typeof comment?.id === "string" ? String(comment.id) : null;
  }

  protected override async redactPart(ticketId: string, commentId: string): Promise<void> {
    await this.#call({
      method: "PUT",
      url: `${this.#base}/api/v2/comment_redactions/${encodeURIComponent(commentId)}.json`,
      json: { ticket_id: /^\d+$/.test(ticketId) ? Number(ticketId) : ticketId },
      // Redaction has no writer context: it gets the post timeout of its own.
      signal: AbortSignal.timeout(this.options.postTimeoutMs),
      isDone: (status) => status === 404,
    });
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

  #call(request: Omit<PlatformRequest, "headers" | "secrets">): Promise<unknown> {
    return platformRequest(PLATFORM, { ...request, headers: this.#headers, secrets: [this.#apiToken] }, this.options.now);
  }
}
