import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import { requestTimeoutOf, requireBaseUrl, requireText, type PlatformWriterOptions } from "../config.js";
import { isGoneStatus, platformRequest, type PlatformRequest } from "../http-status.js";
import { conversationSegment, idSegment } from "../url-path.js";

/**
 * Default `Intercom-Version`: 2.16, the newest stable version in Intercom's published OpenAPI
 * descriptions (intercom/Intercom-OpenAPI, `descriptions/2.16`). The calls this writer makes
 * (`POST /conversations/{id}/reply` with a note, `POST /conversations/redact`) have the same
 * request and response shapes in 2.14 and 2.16 (2.16 only adds the optional
 * `skip_notifications`), so moving from 2.14 changes nothing on the wire, and the newest stable
 * version stays supported longest. `skip_unsnooze` exists only in the Preview version.
 */
export const DEFAULT_INTERCOM_VERSION = "2.16";

/** Options of {@link IntercomWriter}: the writer's options plus the Intercom app's credentials. */
export interface IntercomWriterOptions extends PlatformWriterOptions {
  /** Access token of the Intercom app, sent as `Authorization: Bearer …`. Required. */
  token: string;
  /** Id of the admin (teammate or bot) who authors the notes; part ids are matched against it. Required. */
  adminId: string;
  /** API root; a regional host (`https://api.eu.intercom.io`) or a stand-in. @default "https://api.intercom.io" */
  apiBase?: string;
  /**
   * Sent as the `Intercom-Version` header. With `"Preview"` (formerly `"Unstable"`) notes are sent
   * with `skip_unsnooze: true`, so they leave a snoozed conversation asleep; with any stable
   * version a note wakes a snoozed conversation (Intercom offers no way around it there).
   * @default {@link DEFAULT_INTERCOM_VERSION}
   */
  version?: string;
}

const PLATFORM = "Intercom";

/** One entry of a conversation's `conversation_parts.conversation_parts`, as far as we read it. */
interface ConversationPart {
  id?: unknown;
  part_type?: unknown;
  author?: { id?: unknown } | null;
}

/**
 * Posts each note as an admin note in an Intercom conversation (`POST /conversations/{id}/reply`,
 * `message_type: "note"`), HTML-escaped; redacts notes with `POST /conversations/redact`.
 *
 * - **At-least-once.** Intercom has no idempotency key: a retry after an unknown outcome (a
 *   timeout, a reset connection) can post a note twice.
 * - **Snoozed conversations wake up.** A note unsnoozes a snoozed conversation unless the
 *   version is Preview, where `skip_unsnooze: true` is sent (see {@link IntercomWriterOptions.version}).
 * - **Closed conversations** still take notes; a deleted one (404/410) is a `ConversationGoneError`.
 */
export class IntercomWriter extends BaseChatbotWriter {
  readonly #base: string;
  readonly #adminId: string;
  readonly #token: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #skipUnsnooze: boolean;
  readonly #requestTimeoutMs: number;

  constructor(options: IntercomWriterOptions) {
    super(options);
    this.#token = requireText("token", options.token);
    this.#adminId = requireText("adminId", options.adminId);
    this.#base = requireBaseUrl("apiBase", options.apiBase ?? "https://api.intercom.io");
    const version = requireText("version", options.version ?? DEFAULT_INTERCOM_VERSION);
    this.#skipUnsnooze = supportsSkipUnsnooze(version);
    this.#requestTimeoutMs = requestTimeoutOf(options);
    this.#headers = {
      Authorization: `Bearer ${this.#token}`,
      "Intercom-Version": version,
      "Content-Type": "application/json",
      Accept: "application/json",
    };
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const note = { message_type: "note", type: "admin", admin_id: this.#adminId, body: intercomNoteHtml(body) };
    const conversation = await this.#call({
      method: "POST",
      url: `${this.#base}/conversations/${conversationSegment(PLATFORM, conversationId)}/reply`,
      json: this.#skipUnsnooze ? { ...note, skip_unsnooze: true } : note,
      signal: context.signal,
      // A 404 about the admin (a wrong `adminId`) is a configuration error, not a deleted conversation.
      isGone: (status, answer) => isGoneStatus(status) && !hasErrorCode(answer, "admin_not_found"),
    });
    return newNotePartId(conversation, this.#adminId);
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    conversationSegment(PLATFORM, conversationId);
    idSegment(PLATFORM, partId, "part id");
    await this.#call({
      method: "POST",
      url: `${this.#base}/conversations/redact`,
      json: { type: "conversation_part", conversation_id: conversationId, conversation_part_id: partId },
      // Already redacted, never had a body, or gone with its conversation: nothing left to blank.
      isDone: (status, answer) => status === 404 || status === 410 || hasErrorCode(answer, "conversation_part_not_redactable"),
    });
  }

  #call(request: Omit<PlatformRequest, "headers" | "secrets" | "timeoutMs">): Promise<unknown> {
    const full = { ...request, headers: this.#headers, secrets: [this.#token], timeoutMs: this.#requestTimeoutMs };
    return platformRequest(PLATFORM, full, this.options.now);
  }
}

/** Whether an `Intercom-Version` accepts `skip_unsnooze` on replies: only Preview (called Unstable before). */
export function supportsSkipUnsnooze(version: string): boolean {
  const v = version.trim().toLowerCase();
  return v === "preview" || v === "unstable";
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
 * The id of the note just posted, from the conversation Intercom answers with (documented to
 * carry only the new part): the newest `note` part authored by our admin. Null when there is
 * none: never another author's part, which a later redaction would blank (a customer's message).
 * Bodies are not compared: Intercom reformats the HTML it stores.
 */
function newNotePartId(conversation: unknown, adminId: string): string | null {
  const parts = (conversation as { conversation_parts?: { conversation_parts?: unknown } } | undefined)?.conversation_parts?.conversation_parts;
  if (!Array.isArray(parts)) return null;
  // Matched on the author id alone: a bot admin's parts carry `author.type: "bot"`.
  const ours = (p: ConversationPart): boolean => p.part_type === "note" && p.author != null && String(p.author.id) === adminId;
  const part = parts.filter((p): p is ConversationPart => p !== null && typeof p === "object").findLast(ours);
  const id = part?.id;
  return (typeof id === "string" && id !== "") || typeof id === "number" ? String(id) : null;
}

function hasErrorCode(answer: unknown, code: string): boolean {
  if (answer === null || typeof answer !== "object") return false;
  const { errors, code: topLevel } = answer as { errors?: unknown; code?: unknown };
  return topLevel === code || (Array.isArray(errors) && errors.some((e) => (e as { code?: unknown } | null)?.code === code));
}
