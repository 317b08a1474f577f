import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import { requestTimeoutOf, requireBaseUrl, requireText, type PlatformWriterOptions } from "../config.js";
import { platformRequest, type PlatformRequest } from "../http-status.js";
import { conversationSegment, idSegment } from "../url-path.js";

/** Options of {@link HttpBridgeWriter}: the writer's options plus where the bridge listens. */
export interface HttpBridgeWriterOptions extends PlatformWriterOptions {
  /** Root of the bridge's API, e.g. `https://chat.example.com/autoplay`. Required. */
  endpoint: string;
  /** Sent as `Authorization: Bearer …` when set. @default none */
  token?: string;
}

const PLATFORM = "HTTP bridge";

/**
 * Posts notes to any chat system behind a small HTTP contract:
 * `POST {endpoint}/conversations/{id}/note` with `{"body": "…"}`, answering `{"id": "…"}`
 * (the id is optional), and `DELETE {endpoint}/conversations/{id}/note/{part_id}` to redact.
 *
 * Every post carries `Idempotency-Key: <PostContext.idempotencyKey>`, the same on each retry of
 * a note: a bridge that answers a repeated key with its first answer (and adds no second note)
 * makes a retry after an unknown outcome (timeout, reset) exactly-once. A bridge that ignores
 * the header gets at-least-once delivery, like Intercom and Zendesk.
 */
export class HttpBridgeWriter extends BaseChatbotWriter {
  readonly #endpoint: string;
  readonly #token: string | undefined;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #requestTimeoutMs: number;

  constructor(options: HttpBridgeWriterOptions) {
    super(options);
    this.#endpoint = requireBaseUrl("endpoint", options.endpoint);
    this.#token = options.token === undefined ? undefined : requireText("token", options.token);
    this.#requestTimeoutMs = requestTimeoutOf(options);
    this.#headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...(this.#token === undefined ? {} : { Authorization: `Bearer ${this.#token}` }),
    };
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const answer = await this.#call(
      { method: "POST", url: this.#noteUrl(conversationId), json: { body }, signal: context.signal },
      { "Idempotency-Key": context.idempotencyKey },
    );
    const id = (answer as { id?: unknown } | null | undefined)?.id;
    return typeof id === "string" || typeof id === "number" ? String(id) : null;
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    await this.#call({
      method: "DELETE",
      url: `${this.#noteUrl(conversationId)}/${idSegment(PLATFORM, partId, "part id")}`,
      // Gone (the note, or its conversation): nothing is left to remove.
      isDone: (status) => status === 404 || status === 410,
    });
  }

  #noteUrl(conversationId: string): string {
    return `${this.#endpoint}/conversations/${conversationSegment(PLATFORM, conversationId)}/note`;
  }

  #call(request: Omit<PlatformRequest, "headers" | "secrets" | "timeoutMs">, extraHeaders: Record<string, string> = {}): Promise<unknown> {
    const secrets = this.#token === undefined ? [] : [this.#token];
    const headers = { ...this.#headers, ...extraHeaders };
    return platformRequest(PLATFORM, { ...request, headers, secrets, timeoutMs: this.#requestTimeoutMs }, this.options.now);
  }
}
