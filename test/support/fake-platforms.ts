/**
 * Local stand-ins for the chat platforms (Intercom, Zendesk, the generic HTTP bridge) on
 * 127.0.0.1 and a free port, speaking the platforms' request and response shapes
 * (/work/shared/PLATFORMS.md). Tests point a writer's base URL at `url`, push `faults` to make the
 * next requests fail, and read `requests` and `notes` to see what the platform got.
 * Always `await fake.close()`: it also drops connections held open by a `hang` fault.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a fake received, in arrival order. */
export interface RecordedRequest {
  readonly method: string;
  /** Path (and query) as sent, e.g. `/conversations/c-1/reply`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON; the raw text when it is not JSON; undefined when empty. */
  readonly body: unknown;
  /** Arrival time, epoch ms (`Date.now()`). */
  readonly at: number;
  /** The status answered; undefined for a `hang`, `reset` or `acceptThenReset` fault. */
  status: number | undefined;
}

/** What the next request gets instead of its normal answer (one fault per request, in order). */
export type Fault =
  /** No fault for this request (to aim a later fault at the second request of a sequence). */
  | { pass: true }
  /** Answer with this status (and headers / JSON body). */
  | { status: number; headers?: Record<string, string>; body?: unknown }
  /** Never answer; the connection stays open until the client gives up or the fake closes. */
  | { hang: true }
  /** Destroy the socket without answering (a connection reset). */
  | { reset: true }
  /** Handle the request normally (a note is stored), then destroy the socket: the answer is lost. */
  | { acceptThenReset: true }
  /** Handle the request normally at once, and send its answer only after `delayMs`. */
  | { delayMs: number };

/** A note the platform accepted. */
export interface FakeNote {
  /** The id the platform answered with (as text). */
  readonly id: string;
  /** As posted: HTML for Intercom, plain text elsewhere. */
  readonly body: string;
  /**
   * As the platform stores (and answers) it: Intercom's reformatted HTML, Zendesk's `html_body`
   * (▇ where redacted); the posted body elsewhere.
   */
  stored: string;
  /** Arrival time, epoch ms. */
  readonly at: number;
  /** Zendesk only: the comment's `public` flag as sent. */
  readonly public?: unknown;
  redacted: boolean;
}

/** The handle every fake returns. */
export interface FakePlatform {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Conversation (ticket) id → accepted notes, oldest first. */
  readonly notes: Map<string, FakeNote[]>;
  /** Push to make the next requests fail; each request takes the first one. */
  readonly faults: Fault[];
  /** The accepted notes of one conversation (empty when none). */
  notesIn(conversationId: string): FakeNote[];
  /** From now on, requests about this conversation answer 404. */
  deleteConversation(conversationId: string): void;
  /** Requests that carried this header (case-insensitive), e.g. `Idempotency-Key`. */
  headerValues(name: string): Array<string | undefined>;
  /** Stops the server and drops every connection; safe to call twice. */
  close(): Promise<void>;
}

/** A parsed request, as the platform handlers see it. */
interface Incoming {
  readonly method: string;
  /** Decoded path segments, e.g. `["conversations", "c-1", "reply"]`. */
  readonly segments: string[];
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface FakeState {
  readonly notes: Map<string, FakeNote[]>;
  readonly deleted: Set<string>;
  /** Appends a note to a conversation and returns it (`stored` defaults to the body). */
  addNote(conversationId: string, note: Omit<FakeNote, "at" | "redacted" | "stored"> & { stored?: string }): FakeNote;
}

/** Starts a server that records, applies faults, then hands the request to `handle`. */
async function startFake(handle: (request: Incoming, state: FakeState) => Answer): Promise<FakePlatform> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const notes = new Map<string, FakeNote[]>();
  const deleted = new Set<string>();
  const state: FakeState = {
    notes,
    deleted,
    addNote(conversationId, note) {
      const stored: FakeNote = { stored: note.body, ...note, at: Date.now(), redacted: false };
      const list = notes.get(conversationId);
      if (list === undefined) notes.set(conversationId, [stored]);
      else list.push(stored);
      return stored;
    },
  };
  const server = createServer((req, res) => {
    void readBody(req).then(
      (text) => serve(req, res, text),
      () => req.socket.destroy(),
    );
  });

  function serve(req: IncomingMessage, res: ServerResponse, text: string): void {
    const record: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: parseBody(text), at: Date.now(), status: undefined };
    requests.push(record);
    const fault = faults.shift();
    if (fault !== undefined && "hang" in fault) return;
    if (fault !== undefined && "reset" in fault) {
      req.socket.destroy();
      return;
    }
    let answer: Answer;
    if (fault !== undefined && "status" in fault) answer = { status: fault.status, headers: fault.headers, body: fault.body ?? { error: "injected fault" } };
    else {
      const url = parseUrl(record.path);
      answer = url === undefined ? { status: 400, body: { error: "bad path" } } : handle({ ...record, ...url }, state);
    }
    if (fault !== undefined && "acceptThenReset" in fault) {
      req.socket.destroy();
      return;
    }
    const send = (): void => {
      record.status = answer.status;
      const payload = answer.body === undefined ? "" : JSON.stringify(answer.body);
      const type: Record<string, string> = payload === "" ? {} : { "Content-Type": "application/json" };
      res.writeHead(answer.status, { ...type, ...answer.headers });
      res.end(payload);
    };
    if (fault !== undefined && "delayMs" in fault) setTimeout(send, fault.delayMs);
    else send();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    notes,
    faults,
    notesIn: (conversationId) => notes.get(conversationId) ?? [],
    deleteConversation: (conversationId) => void deleted.add(conversationId),
    headerValues: (name) => requests.map((r) => r.headers[name.toLowerCase()]).map((v) => (Array.isArray(v) ? v.join(", ") : v)),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function parseUrl(path: string): { segments: string[]; query: URLSearchParams } | undefined {
  try {
    const url = new URL(path, "http://fake");
    return { segments: url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent), query: url.searchParams };
  } catch {
    return undefined;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
}

// ---------------------------------------------------------------------------------- Intercom

/** `Intercom-Version` values the fake Intercom accepts by default. */
export const FAKE_INTERCOM_VERSIONS: readonly string[] = ["2.14", "2.15", "2.16", "Preview", "Unstable"];

/** Options of {@link startFakeIntercom}. */
export interface FakeIntercomOptions {
  /** The access token it accepts. @default "intercom-test-token" */
  token?: string;
  /** The `Intercom-Version` (or versions) it accepts. @default {@link FAKE_INTERCOM_VERSIONS} */
  version?: string | readonly string[];
  /** When set, notes by any other admin id are refused (400). @default any admin */
  adminId?: string;
  /** A part added right after every note, like a workflow's auto-reply (not in the reply's answer). @default none */
  autoReply?: { part_type: string; body: string; author: { type: string; id: string } };
}

/** A fake Intercom: `POST /conversations/{id}/reply` (notes), `POST /conversations/redact`. */
export interface FakeIntercom extends FakePlatform {
  /** Adds a part written by someone else (a user comment, another admin's note); returns its id. */
  addPart(conversationId: string, part: { part_type: string; body: string; author: { type: string; id: string } }): string;
  /** Snoozes a conversation: a note wakes it unless sent with `skip_unsnooze: true` on the Preview version. */
  snooze(conversationId: string): void;
  /** `"snoozed"` or `"open"`. */
  stateOf(conversationId: string): "open" | "snoozed";
}

interface IntercomPart {
  type: "conversation_part";
  id: string;
  part_type: string;
  body: string | null;
  author: { type: string; id: string };
  created_at: number;
  redacted: boolean;
  /** The accepted note behind this part, when it came through the reply endpoint. */
  note?: FakeNote;
}

const intercomError = (status: number, code: string, message: string): Answer => ({
  status,
  body: { type: "error.list", request_id: "req-fake", errors: [{ code, message }] },
});

/**
 * The HTML Intercom stores for a note: one `<p class="no-margin">` per line; never the body
 * that was sent, so a client cannot find its part by comparing bodies.
 */
export function intercomStoredHtml(sent: string): string {
  const inner = sent.replace(/^<p>|<\/p>$/g, "");
  return inner.split("<br>").map((line) => `<p class="no-margin">${line === "" ? "<br>" : line}</p>`).join("");
}

/** Starts a fake Intercom on 127.0.0.1 and a free port. */
export async function startFakeIntercom(options: FakeIntercomOptions = {}): Promise<FakeIntercom> {
  const { token = "intercom-test-token" } = options;
  const versions = typeof options.version === "string" ? [options.version] : (options.version ?? FAKE_INTERCOM_VERSIONS);
  const parts = new Map<string, IntercomPart[]>();
  const snoozed = new Set<string>();
  let nextId = 100;
  const addPart = (conversationId: string, part: Omit<IntercomPart, "type" | "id" | "created_at" | "redacted">): IntercomPart => {
    const stored: IntercomPart = { type: "conversation_part", id: String(nextId++), created_at: Math.floor(Date.now() / 1000), redacted: false, ...part };
    const list = parts.get(conversationId);
    if (list === undefined) parts.set(conversationId, [stored]);
    else list.push(stored);
    return stored;
  };
  // Like the documented examples: the conversation with only the part this call made or changed.
  const conversation = (id: string, part: IntercomPart): unknown => {
    const { note: _note, ...shown } = part;
    return {
      type: "conversation", id, state: snoozed.has(id) ? "snoozed" : "open", open: true,
      conversation_parts: { type: "conversation_part.list", conversation_parts: [shown], total_count: 1 },
    };
  };

  const fake = await startFake((request, state): Answer => {
    if (bearer(request.headers) !== token) return intercomError(401, "unauthorized", "Access Token Invalid");
    const version = String(request.headers["intercom-version"] ?? "");
    if (!versions.includes(version)) return intercomError(400, "intercom_version_invalid", "Requested version is not supported");
    const [first, id, action] = request.segments;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (request.method === "POST" && first === "conversations" && id === "redact" && action === undefined) {
      const conversationId = String(body.conversation_id);
      const part = state.deleted.has(conversationId) ? undefined : parts.get(conversationId)?.find((p) => p.id === String(body.conversation_part_id));
      if (body.type !== "conversation_part" || part === undefined) return intercomError(404, "conversation_part_or_message_not_found", "Conversation part or message not found");
      if (part.body === null || part.redacted) return intercomError(400, "conversation_part_not_redactable", "Conversation part is not redactable");
      part.body = "<p><i>This message was deleted</i></p>";
      part.redacted = true;
      if (part.note !== undefined) {
        part.note.redacted = true;
        part.note.stored = part.body;
      }
      return { status: 200, body: conversation(conversationId, part) };
    }
    if (request.method === "POST" && first === "conversations" && id !== undefined && action === "reply") {
      if (state.deleted.has(id)) return intercomError(404, "not_found", "Resource Not Found");
      const adminId = body.admin_id;
      if (body.type !== "admin" || typeof adminId !== "string" || typeof body.body !== "string" || body.body === "") {
        return intercomError(400, "parameter_invalid", "type, admin_id and body are required");
      }
      if (options.adminId !== undefined && adminId !== options.adminId) return intercomError(404, "admin_not_found", "Admin for admin_id not found");
      if (body.message_type !== "note") return intercomError(400, "parameter_invalid", "this fake only takes notes");
      // Only the Preview version knows skip_unsnooze; stable versions ignore it and wake the conversation.
      const preview = version === "Preview" || version === "Unstable";
      if (!(preview && body.skip_unsnooze === true)) snoozed.delete(id);
      const stored = intercomStoredHtml(body.body);
      const part = addPart(id, { part_type: "note", body: stored, author: { type: "admin", id: adminId } });
      part.note = state.addNote(id, { id: part.id, body: body.body, stored });
      if (options.autoReply !== undefined) addPart(id, { ...options.autoReply });
      return { status: 200, body: conversation(id, part) };
    }
    return intercomError(404, "not_found", "Resource Not Found");
  });
  return {
    ...fake,
    addPart: (conversationId, part) => addPart(conversationId, part).id,
    snooze: (conversationId) => void snoozed.add(conversationId),
    stateOf: (conversationId) => (snoozed.has(conversationId) ? "snoozed" : "open"),
  };
}

// ----------------------------------------------------------------------------------- Zendesk

/** Options of {@link startFakeZendesk}. */
export interface FakeZendeskOptions {
  /** The agent email it accepts. @default "agent@example.com" */
  email?: string;
  /** The API token it accepts. @default "zendesk-test-token" */
  apiToken?: string;
  /** Updates of one ticket allowed per `windowMs`; more answer 429 with `Retry-After`. @default 30 */
  maxUpdatesPerTicket?: number;
  /** The rate-limit window, in ms. @default 600_000 */
  windowMs?: number;
  /** Most comments per page of `GET …/comments.json` (the real API: 100). @default 100 */
  maxPageSize?: number;
}

/**
 * A fake Zendesk: `PUT /api/v2/tickets/{id}.json`, `GET /api/v2/tickets/{id}/comments.json`
 * (cursor pagination, `sort_order`), `PUT /api/v2/comment_redactions/{id}.json`.
 */
export interface FakeZendesk extends FakePlatform {
  /** Closes a ticket: updates answer 422 "closed prevents ticket update"; comments stay readable and redactable. */
  closeTicket(ticketId: string): void;
}

/** The 422 Zendesk answers to an update of a closed ticket. */
export const ZENDESK_CLOSED_TICKET_ANSWER = {
  error: "RecordInvalid",
  description: "Record validation errors",
  details: { status: [{ description: "Status: closed prevents ticket update" }] },
} as const;

/**
 * A plain-text comment's `html_body` as Zendesk renders it: escaped, URLs linked, line breaks
 * as `<br>`, in a `zd-comment` div.
 */
export function zendeskHtmlBody(text: string): string {
  const linked = escapeHtml(text).replace(/https?:\/\/[^\s<&"]+/g, (url) => `<a href="${url}" rel="noreferrer">${url}</a>`);
  return `<div class="zd-comment" dir="auto">${linked.split(/\r\n|\r|\n/).join("<br>")}</div>`;
}

/** Starts a fake Zendesk on 127.0.0.1 and a free port. */
export async function startFakeZendesk(options: FakeZendeskOptions = {}): Promise<FakeZendesk> {
  const { email = "agent@example.com", apiToken = "zendesk-test-token", maxUpdatesPerTicket = 30, windowMs = 600_000, maxPageSize = 100 } = options;
  const expectedAuth = `Basic ${Buffer.from(`${email}/token:${apiToken}`).toString("base64")}`;
  const updates = new Map<string, number[]>();
  const closed = new Set<string>();
  let nextId = 5000;
  const notFound: Answer = { status: 404, body: { error: "RecordNotFound", description: "Not found" } };
  const comment = (note: FakeNote) => ({
    id: Number(note.id), type: "Comment", author_id: 42, public: note.public, html_body: note.stored,
    body: htmlText(note.stored), plain_body: htmlText(note.stored), attachments: [], created_at: new Date(note.at).toISOString(),
  });

  const fake = await startFake((request, state): Answer => {
    if (request.headers.authorization !== expectedAuth) return { status: 401, body: { error: "Couldn't authenticate you" } };
    const [api, v2, resource, id, sub] = request.segments;
    if (api !== "api" || v2 !== "v2") return notFound;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (request.method === "GET" && resource === "tickets" && sub === "comments.json" && request.segments.length === 5) {
      if (id === undefined || state.deleted.has(id)) return notFound;
      return commentPage((state.notes.get(id) ?? []).map(comment), request.query, maxPageSize);
    }
    const fileId = /^(.+)\.json$/.exec(id ?? "")?.[1];
    if (request.method !== "PUT" || fileId === undefined || request.segments.length !== 4) return notFound;
    if (resource === "comment_redactions") {
      const ticketId = String(body.ticket_id);
      const note = state.deleted.has(ticketId) ? undefined : state.notes.get(ticketId)?.find((n) => n.id === fileId);
      if (note === undefined) return notFound;
      const redacted = applyRedaction(note.stored, body.html_body);
      if (typeof redacted === "object") return { status: 400, body: { error: "InvalidValue", description: "html_body does not match the comment" } };
      // Without <redact> tags the API removes nothing, and still answers with the comment.
      if (redacted !== undefined) {
        note.stored = redacted;
        note.redacted = !/[^\s▇]/.test(htmlText(redacted));
      }
      return { status: 200, body: { comment: comment(note) } };
    }
    if (resource !== "tickets" || state.deleted.has(fileId)) return notFound;
    if (closed.has(fileId)) return { status: 422, body: ZENDESK_CLOSED_TICKET_ANSWER };
    const posted = (body.ticket as { comment?: { body?: unknown; public?: unknown } } | undefined)?.comment;
    if (typeof posted?.body !== "string" || posted.body === "") {
      return { status: 422, body: { error: "RecordInvalid", description: "Record validation errors" } };
    }
    const now = Date.now();
    const recent = (updates.get(fileId) ?? []).filter((at) => now - at < windowMs);
    const oldest = recent[0];
    if (oldest !== undefined && recent.length >= maxUpdatesPerTicket) {
      const retryAfter = String(Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)));
      return { status: 429, headers: { "Retry-After": retryAfter }, body: { error: "TooManyRequests" } };
    }
    updates.set(fileId, [...recent, now]);
    const firstUpdate = !state.notes.has(fileId);
    const commentId = nextId++;
    const note = state.addNote(fileId, { id: String(commentId), body: posted.body, public: posted.public, stored: zendeskHtmlBody(posted.body) });
    const ticketId = /^\d+$/.test(fileId) ? Number(fileId) : fileId;
    const events = [
      // A ticket's first update also changes its status: the comment is not always the only event.
      ...(firstUpdate ? [{ id: nextId++, type: "Change", field_name: "status", value: "open", previous_value: "new" }] : []),
      { ...comment(note), body: posted.body },
    ];
    return {
      status: 200,
      body: {
        ticket: { id: ticketId, status: "open", updated_at: new Date(now).toISOString() },
        audit: { id: nextId++, ticket_id: ticketId, created_at: new Date(now).toISOString(), author_id: 42, events },
      },
    };
  });
  return { ...fake, closeTicket: (ticketId) => void closed.add(ticketId) };
}

/** One page of comments with cursor pagination (`page[size]`, `page[after]`, `sort_order`). */
function commentPage(comments: unknown[], query: URLSearchParams, maxPageSize: number): Answer {
  const ordered = query.get("sort_order") === "desc" ? [...comments].reverse() : comments;
  const size = Math.min(maxPageSize, Math.max(1, Number(query.get("page[size]") ?? 100) || 100));
  const start = Number(query.get("page[after]") ?? 0) || 0;
  const page = ordered.slice(start, start + size);
  const hasMore = start + size < ordered.length;
  return {
    status: 200,
    body: { comments: page, meta: { has_more: hasMore, after_cursor: hasMore ? String(start + size) : null, before_cursor: null }, links: { next: null, prev: null } },
  };
}

/**
 * Zendesk's redaction of `stored` by the `html_body` sent: undefined when it has no `<redact>`
 * (nothing removed); `{ mismatch }` when, without the redaction marks, it is not the stored HTML;
 * else the HTML with each redacted character as ▇ and marked links/images stripped of attributes.
 */
function applyRedaction(stored: string, sent: unknown): string | { mismatch: true } | undefined {
  if (typeof sent !== "string" || !sent.includes("<redact>")) return undefined;
  const unmarked = sent.replace(/<\/?redact>/g, "").replace(/<(\w+) redact\b/g, "<$1");
  if (unmarked !== stored) return { mismatch: true };
  return sent
    .replace(/<redact>([\s\S]*?)<\/redact>/g, (_all, text: string) => text.replace(/&[#\w]+;|[^\s]/g, "▇"))
    .replace(/<(\w+) redact\b[^>]*>/g, "<$1>");
}

/** The text of an HTML body, tags removed and `<br>` as a line break. */
function htmlText(html: string): string {
  return html.replace(/<br>/g, "\n").replace(/<[^>]*>/g, "");
}

// ------------------------------------------------------------------------------- HTTP bridge

/** Options of {@link startFakeHttpBridge}. */
export interface FakeHttpBridgeOptions {
  /** When set, requests without `Authorization: Bearer <token>` answer 401. @default no auth */
  token?: string;
  /** Answer `{}` instead of `{"id": …}`, like a bridge without note ids. @default false */
  omitIds?: boolean;
}

/**
 * Starts a fake generic bridge: `POST /conversations/{id}/note`, `DELETE /conversations/{id}/note/{part}`.
 * It honours `Idempotency-Key`: a post repeating a key it has answered gets the same answer
 * again, and adds no second note (an injected fault stores nothing, so it answers nothing).
 */
export async function startFakeHttpBridge(options: FakeHttpBridgeOptions = {}): Promise<FakePlatform> {
  let nextId = 1;
  const answered = new Map<string, Answer>();
  return startFake((request, state): Answer => {
    if (options.token !== undefined && bearer(request.headers) !== options.token) return { status: 401, body: { error: "unauthorized" } };
    const [first, id, note, partId] = request.segments;
    if (first !== "conversations" || id === undefined || note !== "note" || state.deleted.has(id)) return { status: 404, body: { error: "not found" } };
    if (request.method === "POST" && partId === undefined) {
      const key = request.headers["idempotency-key"];
      const earlier = typeof key === "string" ? answered.get(key) : undefined;
      if (earlier !== undefined) return earlier;
      const body = (request.body as { body?: unknown } | undefined)?.body;
      if (typeof body !== "string") return { status: 400, body: { error: "body must be a string" } };
      const stored = state.addNote(id, { id: `n-${nextId++}`, body });
      const answer: Answer = { status: 201, body: options.omitIds === true ? {} : { id: stored.id } };
      if (typeof key === "string" && key !== "") answered.set(key, answer);
      return answer;
    }
    const stored = state.notes.get(id)?.find((n) => n.id === partId && !n.redacted);
    if (request.method !== "DELETE" || stored === undefined) return { status: 404, body: { error: "not found" } };
    stored.redacted = true;
    return { status: 204 };
  });
}
