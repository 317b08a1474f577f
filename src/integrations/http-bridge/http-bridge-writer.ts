import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../../writer/options.js";
import { requireBaseUrl, requireText } from "../config.js";
import { platformRequest, type PlatformRequest } from "../http-status.js";

/** Options of {@link HttpBridgeWriter}: the writer's options plus where the bridge listens. */
export interface HttpBridgeWriterOptions extends ChatbotWriterOptions {
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
 */
export class HttpBridgeWriter extends BaseChatbotWriter {
  readonly #endpoint: string;
  readonly #token: string | undefined;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(options: HttpBridgeWriterOptions) {
    super(options);
    this.#endpoint = requireBaseUrl("endpoint", options.endpoint);
    this.#token = options.token === undefined ? undefined : requireText("token", options.token);
    this.#headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...(this.#token === undefined ? {} : { Authorization: `Bearer ${this.#token}` }),
    };
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const answer = await this.#call({ method: "POST", url: this.#noteUrl(conversationId), json: { body }, signal: context.signal });
    const id = (answer as { id?: unknown } | null | undefined)?.id;
    return typeof id === "string" || typeof id === "number" ? String(id) : null;
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    await this.#call({
      method: "DELETE",
      url: `${this.#noteUrl(conversationId)}/${encodeURIComponent(partId)}`,
      // Redaction has no writer context: it gets the post timeout of its own.
      signal: AbortSignal.timeout(this.options.postTimeoutMs),
      isDone: (status) => status === 404,
    });
  }

  #noteUrl(conversationId: string): string {
    return `${this.#endpoint}/conversations/${encodeURIComponent(conversationId)}/note`;
  }

  #call(request: Omit<PlatformRequest, "headers" | "secrets">): Promise<unknown> {
    const secrets = this.#token === undefined ? [] : [this.#token];
    return platformRequest(PLATFORM, { ...request, headers: this.#headers, secrets }, this.options.now);
  }
}
