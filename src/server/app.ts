import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AutoplayChatbotManager, ChatbotEventOutcome } from "../manager/autoplay-chatbot-manager.js";
import { parsePayload } from "../payloads/parse.js";
import { ConversationEventType } from "../session/conversation-event.js";
import type { BridgeMetrics } from "./bridge-metrics.js";
import { HttpError, readBody, sendJson, toHttpError } from "./http.js";
import type { Logger } from "./logger.js";
import type { ReplayGuard } from "./replay-guard.js";
import { verifyConnectorSignature, verifyIntercomSignature, verifyZendeskSignature } from "./signatures.js";

/** What the HTTP surface needs; the bridge wires it (see cli/bridge.ts). */
export interface BridgeAppOptions {
  manager: AutoplayChatbotManager;
  logger: Logger;
  metrics: BridgeMetrics;
  replay: ReplayGuard;
  /** Whether the bridge can record work now (Redis reachable when configured). */
  ready: () => Promise<boolean>;
  /** The embedded destination's notes, for `GET /inbox`; absent with other destinations. */
  inbox?: () => unknown;
  maxBodyBytes: number;
  connectorSecret?: string | undefined;
  intercom: { clientSecret?: string | undefined; sessionAttribute: string };
  zendeskWebhookSecret?: string | undefined;
  linkToken?: string | undefined;
  now?: () => number;
}

interface Reply {
  status: number;
  body: unknown;
}

type Handler = (req: IncomingMessage, raw: Buffer) => Promise<Reply>;

/**
 * The bridge's HTTP surface as a node:http request listener. Handlers are thin: verify the
 * signature on the raw bytes, parse, call the manager, map the outcome to a status. Only what is
 * safely recorded is acknowledged; anything else answers 503 so the sender retries.
 */
export function createBridgeApp(options: BridgeAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const routes: Record<string, { method: string; handler: Handler; readsBody: boolean }> = {
    "/events": { method: "POST", handler: (req, raw) => events(options, req, raw), readsBody: true },
    "/webhooks/intercom": { method: "POST", handler: (req, raw) => intercomWebhook(options, req, raw), readsBody: true },
    "/webhooks/zendesk": { method: "POST", handler: (req, raw) => zendeskWebhook(options, req, raw), readsBody: true },
    "/links": { method: "POST", handler: (req, raw) => links(options, req, raw), readsBody: true },
    "/healthz": { method: "GET", handler: async () => ({ status: 200, body: { status: "ok" } }), readsBody: false },
    "/readyz": { method: "GET", handler: () => readiness(options), readsBody: false },
    "/inbox": { method: "GET", handler: async () => inbox(options), readsBody: false },
  };
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = routes[path];
    void (async () => {
      if (path === "/metrics" && req.method === "GET") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(options.metrics.registry.render());
        return;
      }
      let reply: Reply;
      try {
        if (route === undefined) throw new HttpError(404, "not_found", `no route ${path}`);
        if (req.method !== route.method) throw new HttpError(405, "method_not_allowed", `use ${route.method} ${path}`);
        const raw = route.readsBody ? await readBody(req, options.maxBodyBytes) : Buffer.alloc(0);
        reply = await route.handler(req, raw);
      } catch (error) {
        const httpError = toHttpError(error);
        if (httpError.status >= 500) options.logger.error("request not recorded", { path, error: error instanceof Error ? error.message : String(error) });
        reply = { status: httpError.status, body: { error: { code: httpError.code, message: httpError.message } } };
      }
      options.metrics.requests.inc(1, { route: route === undefined ? "unknown" : path, status: String(reply.status) });
      if (!res.headersSent) sendJson(res, reply.status, reply.body, reply.status === 413 ? { connection: "close" } : {});
      // An unread, oversized body must not keep the socket busy.
      if (reply.status === 413) req.resume();
    })().catch((error: unknown) => {
      options.logger.error("response failed", { error: String(error) });
      res.destroy();
    });
  };
}

function parseJson(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, "invalid_json", "body must be a JSON object");
  return value as Record<string, unknown>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function digest(raw: Buffer): string {
  return createHash("sha256").update(raw).digest("hex");
}

/**
 * Runs `work` once per `key`. A repeat of recorded work is acknowledged as a duplicate; a repeat
 * while the first is still running answers 503 (retry); a failure frees the key.
 */
async function once(replay: ReplayGuard, key: string, work: () => Promise<Reply>, duplicate: Reply): Promise<Reply> {
  const state = await replay.begin(key);
  if (state === "done") return duplicate;
  if (state === "in-progress") throw new HttpError(503, "in_progress", "the same delivery is being processed; retry");
  let reply: Reply;
  try {
    reply = await work();
  } catch (error) {
    await replay.abandon(key).catch(() => undefined);
    throw error;
  }
  // The work is recorded: a failure to remember that only risks processing a replay again.
  await replay.complete(key).catch(() => undefined);
  return reply;
}

async function events(o: BridgeAppOptions, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  if (o.connectorSecret !== undefined && !verifyConnectorSignature(raw, header(req, "x-connector-signature"), o.connectorSecret)) {
    throw new HttpError(401, "invalid_signature", "X-Connector-Signature does not match the body");
  }
  const payload = parsePayload(raw, { maxBytes: o.maxBodyBytes });
  if (payload === null) return { status: 202, body: { status: "ignored", reason: "unknown type" } };
  if (payload.type === "summary") return { status: 202, body: { status: "ignored", reason: "summaries are not delivered by this version" } };
  return once(
    o.replay,
    `events:${digest(raw)}`,
    async () => {
      const outcome = await o.manager.onActions(payload);
      o.metrics.actionsReceived.inc(outcome.accepted);
      return { status: 202, body: { status: "accepted", session_id: outcome.sessionId, actions: outcome.accepted } };
    },
    { status: 202, body: { status: "duplicate" } },
  );
}

const INTERCOM_TOPICS: Record<string, ConversationEventType> = {
  "conversation.user.created": ConversationEventType.NEW,
  "conversation.user.replied": ConversationEventType.REPLY_EXISTING,
};

async function intercomWebhook(o: BridgeAppOptions, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  const secret = o.intercom.clientSecret;
  if (secret !== undefined && !verifyIntercomSignature(raw, header(req, "x-hub-signature"), secret)) {
    throw new HttpError(401, "invalid_signature", "X-Hub-Signature does not match the body");
  }
  const notification = parseJson(raw);
  const event = typeof notification.topic === "string" ? INTERCOM_TOPICS[notification.topic] : undefined;
  if (event === undefined) return { status: 200, body: { status: "ignored", reason: "topic not handled" } };
  const item = ((notification.data as { item?: unknown } | undefined)?.item ?? {}) as { id?: unknown; custom_attributes?: Record<string, unknown> };
  const conversationId = typeof item.id === "string" || typeof item.id === "number" ? String(item.id) : "";
  const sessionId = item.custom_attributes?.[o.intercom.sessionAttribute];
  if (conversationId === "") throw new HttpError(400, "invalid_webhook", "data.item.id is missing");
  if (typeof sessionId !== "string" || sessionId === "") {
    return { status: 200, body: { status: "ignored", reason: `no ${o.intercom.sessionAttribute} attribute on the conversation` } };
  }
  const id = typeof notification.id === "string" ? notification.id : digest(raw);
  return once(o.replay, `intercom:${id}`, () => link(o, sessionId, conversationId, event), { status: 200, body: { status: "duplicate" } });
}

async function zendeskWebhook(o: BridgeAppOptions, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  const secret = o.zendeskWebhookSecret;
  const signature = header(req, "x-zendesk-webhook-signature");
  const timestamp = header(req, "x-zendesk-webhook-signature-timestamp");
  if (secret !== undefined && !verifyZendeskSignature(raw, signature, timestamp, secret, (o.now ?? Date.now)())) {
    throw new HttpError(401, "invalid_signature", "X-Zendesk-Webhook-Signature does not match, or its timestamp is stale");
  }
  const body = parseJson(raw);
  const ticket = body.ticket_id ?? (body.ticket as { id?: unknown } | undefined)?.id;
  const sessionId = body.session_id;
  if ((typeof ticket !== "string" && typeof ticket !== "number") || String(ticket) === "") throw new HttpError(400, "invalid_webhook", "ticket_id is missing");
  if (typeof sessionId !== "string" || sessionId === "") throw new HttpError(400, "invalid_webhook", "session_id is missing");
  return once(o.replay, `zendesk:${digest(Buffer.concat([Buffer.from(timestamp ?? ""), raw]))}`, () => link(o, sessionId, String(ticket)), {
    status: 200,
    body: { status: "duplicate" },
  });
}

async function links(o: BridgeAppOptions, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  if (o.linkToken === undefined) throw new HttpError(404, "links_disabled", "POST /links is disabled: set LINK_TOKEN");
  const given = Buffer.from(header(req, "authorization") ?? "");
  const expected = Buffer.from(`Bearer ${o.linkToken}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, "unauthorized", "a valid bearer token is required");
  const body = parseJson(raw);
  if (typeof body.session_id !== "string" || body.session_id === "") throw new HttpError(400, "invalid_link", "session_id must be a non-empty string");
  if (typeof body.conversation_id !== "string" || body.conversation_id === "") throw new HttpError(400, "invalid_link", "conversation_id must be a non-empty string");
  return link(o, body.session_id, body.conversation_id);
}

async function link(o: BridgeAppOptions, sessionId: string, conversationId: string, event?: ConversationEventType): Promise<Reply> {
  const outcome: ChatbotEventOutcome = await o.manager.onChatbotEvent(sessionId, conversationId, event);
  if (outcome.status === "conflict") {
    o.logger.warn("conversation already linked to another session", { sessionId, conversationId, owner: outcome.owner });
    return { status: 409, body: { status: "conflict", owner: outcome.owner } };
  }
  return { status: 200, body: { status: "linked", event: outcome.event, conversation_id: outcome.conversationId, changed: outcome.changed } };
}

async function readiness(o: BridgeAppOptions): Promise<Reply> {
  const ok = await o.ready().catch(() => false);
  return { status: ok ? 200 : 503, body: { status: ok ? "ready" : "not_ready" } };
}

function inbox(o: BridgeAppOptions): Reply {
  if (o.inbox === undefined) throw new HttpError(404, "not_found", "GET /inbox exists with DESTINATION=inbox only");
  return { status: 200, body: { conversations: o.inbox() } };
}
