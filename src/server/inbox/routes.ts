/**
 * The live inbox's HTTP routes (inbox mode only): `GET /` (the page), its script and style,
 * `GET /inbox/feed` (server-sent events) and `POST /inbox/open-chat`. They answer on the raw
 * response (a stream), so the app hands them requests before its JSON routes.
 *
 * Access follows the operator routes' rules: on a loopback-bound bridge only a loopback `Host`
 * is served (DNS rebinding); the feed and "Open chat" need `ADMIN_TOKEN` when it is set, and
 * always beyond loopback. The page, script and style carry no data, so they are served to a
 * browser without a token (beyond loopback only when `ADMIN_TOKEN` is set); the page then sends
 * the token, taken from the URL fragment `#token=…` or typed in, with every request of its own.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseJson, type AppContext } from "../context.js";
import { isLoopbackHostHeader } from "../exposure.js";
import { HttpError, isJson, readBody, sendJson, toHttpError } from "../http.js";
import type { FeedFrame, InboxFeed } from "./feed.js";
import { INBOX_PAGE_CSS, INBOX_PAGE_HTML, INBOX_PAGE_JS } from "./page.js";

/** The app's access check of an operator route (throws the 401/403). */
export type Admit = (c: AppContext, req: IncomingMessage, path: string, access: "read" | "write") => void;

/** Serves a request if it is one of these routes; returns whether it did. */
export type PageRoutes = (c: AppContext, req: IncomingMessage, res: ServerResponse, path: string, admit: Admit) => boolean;

/** Options of {@link inboxPageRoutes}. */
export interface InboxPageOptions {
  feed: InboxFeed;
  /** Feed connections open at once at most (503 beyond). @default 32 */
  maxClients?: number;
  /** Interval of the feed's keep-alive comment, in ms. @default 15_000 */
  heartbeatMs?: number;
  /** Bytes queued for one slow feed client before it is dropped (it reconnects and gets a snapshot). @default 1 MiB */
  maxQueuedBytes?: number;
  /** Conversation ids of "Open chat". @default `chat-<8 hex>` */
  conversationId?: () => string;
}

/** The page's routes, plus `close()` to end open feeds at shutdown. */
export interface InboxPage {
  routes: PageRoutes;
  close(): void;
}

const STATIC: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: INBOX_PAGE_HTML },
  "/inbox/app.js": { type: "text/javascript; charset=utf-8", body: INBOX_PAGE_JS },
  "/inbox/app.css": { type: "text/css; charset=utf-8", body: INBOX_PAGE_CSS },
};

/** Headers of every answer of these routes: no framing, no sniffing, nothing but our own script and style. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** The live inbox page's routes over `feed`. */
export function inboxPageRoutes(options: InboxPageOptions): InboxPage {
  const clients = new Set<ServerResponse>();
  const maxClients = options.maxClients ?? 32;
  const newConversationId = options.conversationId ?? (() => `chat-${randomUUID().slice(0, 8)}`);
  const routes: PageRoutes = (c, req, res, path, admit) => {
    const file = STATIC[path];
    const route = file !== undefined ? "static" : path === "/inbox/feed" ? "feed" : path === "/inbox/open-chat" ? "open" : undefined;
    if (route === undefined) return false;
    void (async () => {
      let status = 200;
      try {
        if (route === "static") {
          if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "method_not_allowed", `use GET ${path}`);
          checkPage(c, req, path);
          const body = Buffer.from((file as { body: string }).body);
          res.writeHead(200, { ...SECURITY_HEADERS, "content-type": (file as { type: string }).type, "content-length": body.length });
          res.end(req.method === "HEAD" ? undefined : body);
        } else if (route === "feed") {
          if (req.method !== "GET") throw new HttpError(405, "method_not_allowed", "use GET /inbox/feed");
          admit(c, req, path, "read");
          if (clients.size >= maxClients) throw new HttpError(503, "busy", `at most ${maxClients} inbox feeds at once`);
          await openFeed(options, clients, req, res);
        } else {
          if (req.method !== "POST") throw new HttpError(405, "method_not_allowed", "use POST /inbox/open-chat");
          admit(c, req, path, "read");
          checkOrigin(req);
          const reply = await openChat(c, options.feed, req, newConversationId);
          status = reply.status;
          sendJson(res, reply.status, reply.body, SECURITY_HEADERS);
        }
      } catch (error) {
        const e = toHttpError(error);
        status = e.status;
        const detail: Record<string, string> = { code: e.code, message: e.message };
        if (e.field !== undefined) detail.field = e.field;
        if (!res.headersSent) sendJson(res, e.status, { error: detail }, { ...SECURITY_HEADERS, ...(req.complete ? {} : { connection: "close" }) });
        else res.destroy();
      }
      c.metrics.requests.inc(1, { route: path, status: String(status) });
    })();
    return true;
  };
  return {
    routes,
    close() {
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

/** The page itself holds no data: the Host check on loopback; beyond loopback only once ADMIN_TOKEN is set. */
function checkPage(c: AppContext, req: IncomingMessage, path: string): void {
  if (c.loopback === true && !isLoopbackHostHeader(req.headers.host)) {
    throw new HttpError(403, "forbidden_host", `${path} answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1])`);
  }
  if (c.loopback !== true && c.adminToken === undefined) throw new HttpError(401, "unauthorized", `${path} is disabled: set ADMIN_TOKEN`);
}

/** A browser always names the page that sent a POST: it must be this bridge's own. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = "";
  }
  if (host === "" || host !== req.headers.host) throw new HttpError(403, "forbidden_origin", "POST /inbox/open-chat answers only this bridge's own page");
}

async function openFeed(options: InboxPageOptions, clients: Set<ServerResponse>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
  // Subscribe before taking the snapshot: a change in between is sent twice, never lost.
  const pending: FeedFrame[] = [];
  let ready = false;
  const send = (frame: FeedFrame) => {
    if (!ready) {
      pending.push(frame);
      return;
    }
    res.write(`event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`);
    if (res.writableLength > maxQueued) res.destroy();
  };
  const unsubscribe = options.feed.subscribe(send);
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  clients.add(res);
  res.once("close", () => {
    unsubscribe();
    clearInterval(heartbeat);
    clients.delete(res);
  });
  req.socket.setTimeout(0);
  res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" });
  res.write("retry: 2000\n\n");
  const snapshot = await options.feed.snapshot();
  ready = true;
  send({ event: "snapshot", data: snapshot });
  for (const frame of pending.splice(0)) send(frame);
}

/**
 * "Open chat": a new local conversation linked to the session through the manager, exactly as a
 * chatbot webhook links one, so the pre-link buffer goes out as the flush note.
 */
async function openChat(c: AppContext, feed: InboxFeed, req: IncomingMessage, newConversationId: () => string): Promise<{ status: number; body: unknown }> {
  if (!isJson(req)) throw new HttpError(415, "unsupported_media_type", "/inbox/open-chat takes Content-Type: application/json");
  const raw = await readBody(req, c.maxBodyBytes, c.inFlight);
  let sessionId: unknown;
  try {
    sessionId = parseJson(raw).session_id;
  } finally {
    c.inFlight?.release(raw.length);
  }
  if (typeof sessionId !== "string" || sessionId === "") throw new HttpError(400, "invalid_field", "session_id must be a non-empty string", "session_id");
  const view = feed.session(sessionId);
  if (view === undefined) throw new HttpError(404, "unknown_session", "no such session on the inbox page");
  if (view.linked) throw new HttpError(409, "already_linked", `the session is linked to ${view.conversation_id ?? "a conversation"}`);
  const conversationId = newConversationId();
  const outcome = await c.manager.onChatbotEvent(sessionId, conversationId);
  if (outcome.status === "conflict") throw new HttpError(409, "conflict", "another session owns that conversation; try again");
  c.logger.info("inbox: chat opened", { sessionId, conversationId });
  return { status: 200, body: { status: "linked", session_id: sessionId, conversation_id: conversationId } };
}
