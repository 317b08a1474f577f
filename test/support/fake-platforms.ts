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
  /** The status answered; undefined for a `hang` or `reset` fault. */
  status: number | undefined;
}

/** What the next request gets instead of its normal answer (one fault per request, in order). */
export type Fault =
  /** Answer with this status (and headers / JSON body). */
  | { status: number; headers?: Record<string, string>; body?: unknown }
  /** Never answer; the connection stays open until the client gives up or the fake closes. */
  | { hang: true }
  /** Destroy the socket without answering (a connection reset). */
  | { reset: true };

/** A note the platform accepted. */
export interface FakeNote {
  /** The id the platform answered with (as text). */
  readonly id: string;
  /** As posted: HTML for Intercom, plain text elsewhere. */
  readonly body: string;
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
  /** Stops the server and drops every connection; safe to call twice. */
  close(): Promise<void>;
}

/** A parsed request, as the platform handlers see it. */
interface Incoming {
  readonly method: string;
  /** Decoded path segments, e.g. `["conversations", "c-1", "reply"]`. */
  readonly segments: string[];
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
  /** Appends a note to a conversation and returns it. */
  addNote(conversationId: string, note: Omit<FakeNote, "at" | "redacted">): FakeNote;
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
      const stored: FakeNote = { ...note, at: Date.now(), redacted: false };
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
    if (fault !== undefined) answer = { status: fault.status, headers: fault.headers, body: fault.body ?? { error: "injected fault" } };
    else {
      const segments = pathSegments(record.path);
      answer = segments === undefined ? { status: 400, body: { error: "bad path" } } : handle({ ...record, segments }, state);
    }
    record.status = answer.status;
    const payload = answer.body === undefined ? "" : JSON.stringify(answer.body);
    const type: Record<string, string> = payload === "" ? {} : { "Content-Type": "application/json" };
    res.writeHead(answer.status, { ...type, ...answer.headers });
    res.end(payload);
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

function pathSegments(path: string): string[] | undefined {
  try {
    return new URL(path, "http://fake").pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
}

// ---------------------------------------------------------------------------------- Intercom

/** Options of {@link startFakeIntercom}. */
export interface FakeIntercomOptions {
  /** The access token it accepts. @default "intercom-test-token" */
  token?: string;
  /** The `Intercom-Version` it accepts. @default "2.14" */
  version?: string;
  /** When set, notes by any other admin id are refused (400). @default any admin */
  adminId?: string;
  /** A part added right after every note, like a workflow's auto-reply. @default none */
  autoReply?: { part_type: string; body: string; author: { type: string; id: string } };
}

/** A fake Intercom: `POST /conversations/{id}/reply` (notes), `POST /conversations/redact`. */
export interface FakeIntercom extends FakePlatform {
  /** Adds a part written by someone else (a user comment, another admin's note); returns its id. */
  addPart(conversationId: string, part: { part_type: string; body: string; author: { type: string; id: string } }): string;
}

interface IntercomPart {
  type: "conversation_part";
  id: string;
  part_type: string;
  body: string | null;
  author: { type: string; id: string };
  created_at: number;
  /** The accepted note behind this part, when it came through the reply endpoint. */
  note?: FakeNote;
}

const intercomError = (status: number, code: string, message: string): Answer => ({
  status,
  body: { type: "error.list", request_id: "req-fake", errors: [{ code, message }] },
});

/** Starts a fake Intercom on 127.0.0.1 and a free port. */
export async function startFakeIntercom(options: FakeIntercomOptions = {}): Promise<FakeIntercom> {
  const { token = "intercom-test-token", version = "2.14" } = options;
  const parts = new Map<string, IntercomPart[]>();
  let nextId = 100;
  const addPart = (conversationId: string, part: Omit<IntercomPart, "type" | "id" | "created_at">): IntercomPart => {
    const stored: IntercomPart = { type: "conversation_part", id: String(nextId++), created_at: Math.floor(Date.now() / 1000), ...part };
    const list = parts.get(conversationId);
    if (list === undefined) parts.set(conversationId, [stored]);
    else list.push(stored);
    return stored;
  };
  const conversation = (id: string): unknown => {
    const list = (parts.get(id) ?? []).map(({ note: _note, ...part }) => part);
    return { type: "conversation", id, state: "open", conversation_parts: { type: "conversation_part.list", conversation_parts: list, total_count: list.length } };
  };

  const fake = await startFake((request, state): Answer => {
    if (bearer(request.headers) !== token) return intercomError(401, "unauthorized", "Access Token Invalid");
    if (request.headers["intercom-version"] !== version) return intercomError(401, "intercom_version_invalid", "Requested version is not supported");
    const [first, id, action] = request.segments;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (request.method === "POST" && first === "conversations" && id === "redact" && action === undefined) {
      const conversationId = String(body.conversation_id);
      if (body.type !== "conversation_part" || state.deleted.has(conversationId)) return intercomError(404, "not_found", "Resource Not Found");
      const part = parts.get(conversationId)?.find((p) => p.id === String(body.conversation_part_id));
      if (part === undefined) return intercomError(404, "not_found", "Resource Not Found");
      if (part.body === null) return intercomError(400, "conversation_part_not_redactable", "Conversation part is not redactable");
      part.body = null;
      if (part.note !== undefined) part.note.redacted = true;
      return { status: 200, body: conversation(conversationId) };
    }
    if (request.method === "POST" && first === "conversations" && id !== undefined && action === "reply") {
      if (state.deleted.has(id)) return intercomError(404, "not_found", "Resource Not Found");
      const adminId = body.admin_id;
      if (body.type !== "admin" || typeof adminId !== "string" || typeof body.body !== "string" || body.body === "") {
        return intercomError(400, "parameter_invalid", "type, admin_id and body are required");
      }
      if (options.adminId !== undefined && adminId !== options.adminId) return intercomError(400, "parameter_invalid", "Admin not found");
      if (body.message_type !== "note") return intercomError(400, "parameter_invalid", "this fake only takes notes");
      const part = addPart(id, { part_type: "note", body: body.body, author: { type: "admin", id: adminId } });
      part.note = state.addNote(id, { id: part.id, body: body.body });
      if (options.autoReply !== undefined) addPart(id, { ...options.autoReply });
      return { status: 200, body: conversation(id) };
    }
    return intercomError(404, "not_found", "Resource Not Found");
  });
  return { ...fake, addPart: (conversationId, part) => addPart(conversationId, part).id };
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
}

/** Starts a fake Zendesk: `PUT /api/v2/tickets/{id}.json`, `PUT /api/v2/comment_redactions/{id}.json`. */
export async function startFakeZendesk(options: FakeZendeskOptions = {}): Promise<FakePlatform> {
  const { email = "agent@example.com", apiToken = "zendesk-test-token", maxUpdatesPerTicket = 30, windowMs = 600_000 } = options;
  const expectedAuth = `Basic ${Buffer.from(`${email}/token:${apiToken}`).toString("base64")}`;
  const updates = new Map<string, number[]>();
  let nextId = 5000;
  const notFound: Answer = { status: 404, body: { error: "RecordNotFound", description: "Not found" } };

  return startFake((request, state): Answer => {
    if (request.headers.authorization !== expectedAuth) return { status: 401, body: { error: "Couldn't authenticate you" } };
    const [api, v2, resource, file] = request.segments;
    const id = /^(.+)\.json$/.exec(file ?? "")?.[1];
    if (request.method !== "PUT" || api !== "api" || v2 !== "v2" || id === undefined || request.segments.length !== 4) return notFound;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (resource === "comment_redactions") {
      const ticketId = String(body.ticket_id);
      const note = state.deleted.has(ticketId) ? undefined : state.notes.get(ticketId)?.find((n) => n.id === id);
      if (note === undefined) return notFound;
      note.redacted = true;
      return { status: 200, body: { comment: { id: Number(id), type: "Comment", body: "▇▇▇", public: false } } };
    }
    if (resource !== "tickets" || state.deleted.has(id)) return notFound;
    const comment = (body.ticket as { comment?: { body?: unknown; public?: unknown } } | undefined)?.comment;
    if (typeof comment?.body !== "string" || comment.body === "") {
      return { status: 422, body: { error: "RecordInvalid", description: "Record validation errors" } };
    }
    const now = Date.now();
    const recent = (updates.get(id) ?? []).filter((at) => now - at < windowMs);
    const oldest = recent[0];
    if (oldest !== undefined && recent.length >= maxUpdatesPerTicket) {
      const retryAfter = String(Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)));
      return { status: 429, headers: { "Retry-After": retryAfter }, body: { error: "TooManyRequests" } };
    }
    updates.set(id, [...recent, now]);
    const firstUpdate = !state.notes.has(id);
    const commentId = nextId++;
    state.addNote(id, { id: String(commentId), body: comment.body, public: comment.public });
    const ticketId = /^\d+$/.test(id) ? Number(id) : id;
    const events = [
      // A ticket's first update also changes its status: the comment is not always the only event.
      ...(firstUpdate ? [{ id: nextId++, type: "Change", field_name: "status", value: "open", previous_value: "new" }] : []),
      { id: commentId, type: "Comment", author_id: 42, body: comment.body, public: comment.public, attachments: [] },
    ];
    return {
      status: 200,
      body: {
        ticket: { id: ticketId, status: "open", updated_at: new Date(now).toISOString() },
        audit: { id: nextId++, ticket_id: ticketId, created_at: new Date(now).toISOString(), author_id: 42, events },
      },
    };
  });
}

// ------------------------------------------------------------------------------- HTTP bridge

/** Options of {@link startFakeHttpBridge}. */
export interface FakeHttpBridgeOptions {
  /** When set, requests without `Authorization: Bearer <token>` answer 401. @default no auth */
  token?: string;
  /** Answer `{}` instead of `{"id": …}`, like a bridge without note ids. @default false */
  omitIds?: boolean;
}

/** Starts a fake generic bridge: `POST /conversations/{id}/note`, `DELETE /conversations/{id}/note/{part}`. */
export async function startFakeHttpBridge(options: FakeHttpBridgeOptions = {}): Promise<FakePlatform> {
  let nextId = 1;
  return startFake((request, state): Answer => {
    if (options.token !== undefined && bearer(request.headers) !== options.token) return { status: 401, body: { error: "unauthorized" } };
    const [first, id, note, partId] = request.segments;
    if (first !== "conversations" || id === undefined || note !== "note" || state.deleted.has(id)) return { status: 404, body: { error: "not found" } };
    if (request.method === "POST" && partId === undefined) {
      const body = (request.body as { body?: unknown } | undefined)?.body;
      if (typeof body !== "string") return { status: 400, body: { error: "body must be a string" } };
      const stored = state.addNote(id, { id: `n-${nextId++}`, body });
      return { status: 201, body: options.omitIds === true ? {} : { id: stored.id } };
    }
    const stored = state.notes.get(id)?.find((n) => n.id === partId && !n.redacted);
    if (request.method !== "DELETE" || stored === undefined) return { status: 404, body: { error: "not found" } };
    stored.redacted = true;
    return { status: 204 };
  });
}
