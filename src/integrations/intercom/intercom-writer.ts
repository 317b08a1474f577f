import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../../writer/options.js";
import { requireBaseUrl, requireText } from "../config.js";
import { platformRequest, type PlatformRequest } from "../http-status.js";

/** Options of {@link IntercomWriter}: the writer's options plus the Intercom app's credentials. */
export interface IntercomWriterOptions extends ChatbotWriterOptions {
  /** Access token of the Intercom app, sent as `Authorization: Bearer …`. Required. */
  token: string;
  /** Id of the admin (teammate or bot) who authors the notes; part ids are matched against it. Required. */
  adminId: string;
  /** API root; a regional host (`https://api.eu.intercom.io`) or a stand-in. @default "https://api.intercom.io" */
  apiBase?: string;
  /** Sent as the `Intercom-Version` header. @default "2.14" */
  version?: string;
}

const PLATFORM = "Intercom";

/** One entry of a conversation's `conversation_parts.conversation_parts`, as far as we read it. */
interface ConversationPart {
  id?: unknown;
  part_type?: unknown;
  body?: unknown;
  author?: { id?: unknown } | null;
}

/**
 * Posts each note as an admin note in an Intercom conversation (`POST /conversations/{id}/reply`,
 * `message_type: "note"`), HTML-escaped; redacts notes with `POST /conversations/redact`.
 */
export class IntercomWriter extends BaseChatbotWriter {
  readonly #base: string;
  readonly #adminId: string;
  readonly #token: string;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(options: IntercomWriterOptions) {
    super(options);
    this.#token = requireText("token", options.token);
    this.#adminId = requireText("adminId", options.adminId);
    this.#base = requireBaseUrl("apiBase", options.apiBase ?? "https://api.intercom.io");
    this.#headers = {
      Authorization: `Bearer ${this.#token}`,
      "Intercom-Version": requireText("version", options.version ?? "2.14"),
      "Content-Type": "application/json",
      Accept: "application/json",
    };
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const html = intercomNoteHtml(body);
    const conversation = await this.#call({
      method: "POST",
      url: `${this.#base}/conversations/${encodeURIComponent(conversationId)}/reply`,
      json: { message_type: "note", type: "admin", admin_id: this.#adminId, body: html },
      signal: context.signal,
    });
    return newNotePartId(conversation, this.#adminId, html);
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    await this.#call({
      method: "POST",
      url: `${this.#base}/conversations/redact`,
      json: { type: "conversation_part", conversation_id: conversationId, conversation_part_id: partId },
      // Redaction is not a post: it has no writer context, so it gets the post timeout of its own.
      signal: AbortSignal.timeout(this.options.postTimeoutMs),
      // Already redacted, never had a body, or gone with its conversation: nothing left to blank.
      isDone: (status, answer) => status === 404 || status === 410 || hasErrorCode(answer, "conversation_part_not_redactable"),
    });
  }

  #call(request: Omit<PlatformRequest, "headers" | "secrets">): Promise<unknown> {
    return platformRequest(PLATFORM, { ...request, headers: this.#headers, secrets: [this.#token] }, this.options.now);
  }
}

/**
 * A plain-text note as the HTML body of an Intercom note: `& < > " '` escaped (action text comes
 * from end users), each line break a `<br>` so blank lines stay visible, wrapped in one `<p>`.
 */
export function intercomNoteHtml(text: string): string {
  return `<p>${text.split(/\r\n|\r|\n/).map(escapeHtml).join("<br>")}</p>`;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(line: string): string {
  return line.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * The id of the note just posted, from the conversation Intercom answers with: the newest note
 * by our admin, preferring one whose body is ours (another integration may share the admin).
 * Falls back to the newest part of any kind; null when the answer lists none.
 */
function newNotePartId(conversation: unknown, adminId: string, html: string): string | null {
  const parts = (conversation as { conversation_parts?: { conversation_parts?: unknown } } | undefined)?.conversation_parts?.conversation_parts;
  if (!Array.isArray(parts)) return null;
  const list = parts.filter((p): p is ConversationPart => p !== null && typeof p === "object");
  const ours = (p: ConversationPart): boolean => p.part_type === "note" && p.author != null && String(p.author.id) === adminId;
  const part = list.findLast((p) => ours(p) && p.body === html) ?? list.findLast(ours) ?? list.at(-1);
  const id = part?.id;
  return typeof id === "string" || typeof id === "number" ? String(id) : null;
}

function hasErrorCode(answer: unknown, code: string): boolean {
  if (answer === null || typeof answer !== "object") return false;
  const { errors, code: topLevel } = answer as { errors?: unknown; code?: unknown };
  return topLevel === code || (Array.isArray(errors) && errors.some((e) => (e as { code?: unknown } | null)?.code === code));
}
