import type { IncomingMessage, ServerResponse } from "node:http";
import type { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { parsePayload } from "../payloads/parse.js";
import { deadLetters, redrive } from "./admin.js";
import { digest, header, once, unsignedAllowed, type AppContext, type Reply } from "./context.js";
import type { BridgeMetrics } from "./bridge-metrics.js";
import type { ByteBudget } from "./byte-budget.js";
import { hasBearer, isLoopbackHostHeader } from "./exposure.js";
import type { PageRoutes } from "./inbox/routes.js";
import { ClientAbortError, HttpError, isJson, readBody, sendJson, toHttpError } from "./http.js";
import type { Logger } from "./logger.js";
import { openApiDocument } from "./openapi.js";
import { RateLimiter } from "./rate-limit.js";
import { MemoryReplayGuard, type ReplayGuard } from "./replay-guard.js";
import { verifyConnectorSignature } from "./signatures.js";
import { packageVersion } from "./version.js";
import { intercomWebhook, links, zendeskWebhook } from "./webhooks.js";

/** A chatbot webhook route; the bridge mounts only its destination's. */
export type WebhookKind = "intercom" | "zendesk";

/** What the HTTP surface needs; the bridge wires it (see cli/bridge.ts). */
export interface BridgeAppOptions {
  manager: AutoplayChatbotManager;
  logger: Logger;
  metrics: BridgeMetrics;
  /** Webhook deliveries and connector summaries already processed, shared by every instance (Redis when configured). */
  replay: ReplayGuard;
  /**
   * Connector action batches this process already recorded: a replayed body is answered
   * `duplicate` without touching the session. Kept in process on purpose: it is only a fast
   * answer, while the delivery engine's per-session dedupe is what makes a batch count once
   * across instances (a replay another instance took is answered with `new: 0`), so a batch
   * costs no Redis round trip for it. @default a new MemoryReplayGuard
   */
  actionsReplay?: ReplayGuard;
  /** Whether the bridge can record work now (Redis reachable when configured). */
  ready: () => Promise<boolean>;
  /** The embedded destination's notes, for `GET /inbox`; absent with other destinations. */
  inbox?: () => unknown;
  /** The live inbox page (`GET /`, its feed, "Open chat"; see inbox/routes.ts); inbox mode only. */
  inboxPage?: PageRoutes;
  maxBodyBytes: number;
  /** Bytes of request bodies buffered across requests at most (503 beyond). @default unbounded */
  inFlight?: ByteBudget;
  /** Whether `POST /events` (connector push) is mounted. @default true */
  events?: boolean;
  /** The webhook routes mounted. @default none */
  webhooks?: readonly WebhookKind[];
  connectorSecret?: string | undefined;
  intercom: { clientSecret?: string | undefined; sessionAttribute: string };
  zendeskWebhookSecret?: string | undefined;
  /** Bearer token of `POST /links`; unset = the route answers 404. */
  linkToken?: string | undefined;
  /**
   * Whether a mounted route whose secret is unset accepts unsigned requests (ALLOW_UNSIGNED, or
   * the inbox default on loopback). @default false: such a route answers 401 to everyone
   */
  allowUnsigned?: boolean;
  /** Bearer token of `/inbox` and `/dead-letters`. */
  adminToken?: string | undefined;
  /**
   * The bridge listens on loopback only: `/inbox` and `GET /dead-letters` then need no token, and
   * the admin routes answer only requests whose `Host` is a loopback name (DNS rebinding).
   * @default false: the admin routes need `adminToken`
   */
  loopback?: boolean;
  now?: () => number;
}

type Handler = (c: AppContext, req: IncomingMessage, raw: Buffer) => Promise<Reply>;

interface Route {
  method: string;
  handler: Handler;
  /** "json": a body that must be JSON; "optional": JSON when present; "none": not read. */
  body: "json" | "optional" | "none";
  /** A route of operators: Host check on loopback, ADMIN_TOKEN beyond (or always, when `mutating`). */
  admin?: "read" | "write";
}

/**
 * The bridge's HTTP surface as a node:http request listener. Handlers are thin: verify the
 * signature on the raw bytes, parse, call the manager, map the outcome to a status. Only what is
 * safely recorded is acknowledged; anything else answers 503 so the sender retries.
 */
export function createBridgeApp(options: BridgeAppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const refusals = new RateLimiter(10_000, options.now);
  const failures = new RateLimiter(10_000, options.now);
  const context: AppContext = {
    ...options,
    actionsReplay: options.actionsReplay ?? new MemoryReplayGuard(),
    refuse(route, message) {
      options.metrics.authRefused.inc(1, { route });
      const suppressed = refusals.allow(route);
      if (suppressed !== null) options.logger.info("refused a request: bad signature or token", { route, reason: message, ...(suppressed > 0 ? { suppressed } : {}) });
      return new HttpError(401, "unauthorized", message);
    },
  };
  const routes = mountRoutes(options);
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = routes.get(path);
    if (route === undefined && options.inboxPage?.(context, req, res, path, admit) === true) return;
    void (async () => {
      if (path === "/metrics" && req.method === "GET") {
        const text = await options.metrics.registry.metrics();
        res.writeHead(200, { "content-type": options.metrics.registry.contentType });
        res.end(text);
        return;
      }
      let reply: Reply;
      try {
        reply = await serve(context, route, path, req);
      } catch (error) {
        if (error instanceof ClientAbortError) {
          options.metrics.clientAborts.inc(1, { route: route === undefined ? "unknown" : path });
          options.logger.debug("client disconnected mid-upload", { path });
          res.destroy();
          return;
        }
        const httpError = toHttpError(error);
        if (httpError.status >= 500 && httpError.code !== "busy") {
          // Redis down fails every request alike: one line per route and cause every 10 s.
          const suppressed = failures.allow(`${path}\u0000${httpError.code}`);
          if (suppressed !== null) {
            options.logger.error("request not recorded", { path, code: httpError.code, error: error instanceof Error ? error.message : String(error), ...(suppressed > 0 ? { suppressed } : {}) });
          }
        }
        const detail: Record<string, string> = { code: httpError.code, message: httpError.message };
        if (httpError.field !== undefined) detail.field = httpError.field;
        reply = { status: httpError.status, body: { error: detail } };
      }
      options.metrics.requests.inc(1, { route: route === undefined ? "unknown" : path, status: String(reply.status) });
      // An unread body (refused before reading) must not keep the socket busy.
      const closes = reply.status === 413 || reply.status === 415 || (reply.status === 503 && !req.complete);
      if (!res.headersSent) sendJson(res, reply.status, reply.body, closes ? { connection: "close" } : {});
      if (closes) req.resume();
    })().catch((error: unknown) => {
      options.logger.error("response failed", { error: String(error) });
      res.destroy();
    });
  };
}

function mountRoutes(o: BridgeAppOptions): Map<string, Route> {
  const openApi = openApiDocument(packageVersion());
  const routes = new Map<string, Route>([
    ["/healthz", { method: "GET", handler: async () => ({ status: 200, body: { status: "ok" } }), body: "none" }],
    ["/openapi.json", { method: "GET", handler: async () => ({ status: 200, body: openApi }), body: "none" }],
    ["/readyz", { method: "GET", handler: (c) => readiness(c), body: "none" }],
    ["/links", { method: "POST", handler: links, body: "json" }],
    ["/dead-letters", { method: "GET", handler: deadLetters, body: "none", admin: "read" }],
    ["/dead-letters/redrive", { method: "POST", handler: redrive, body: "optional", admin: "write" }],
  ]);
  if (o.inbox !== undefined) routes.set("/inbox", { method: "GET", handler: async (c) => ({ status: 200, body: { conversations: c.inbox?.() } }), body: "none", admin: "read" });
  if (o.events ?? true) routes.set("/events", { method: "POST", handler: events, body: "json" });
  const webhooks = new Set(o.webhooks ?? []);
  if (webhooks.has("intercom")) routes.set("/webhooks/intercom", { method: "POST", handler: intercomWebhook, body: "json" });
  if (webhooks.has("zendesk")) routes.set("/webhooks/zendesk", { method: "POST", handler: zendeskWebhook, body: "json" });
  return routes;
}

async function serve(c: AppContext, route: Route | undefined, path: string, req: IncomingMessage): Promise<Reply> {
  if (route === undefined) throw new HttpError(404, "not_found", `no route ${path}`);
  if (req.method !== route.method) throw new HttpError(405, "method_not_allowed", `use ${route.method} ${path}`);
  if (route.admin !== undefined) admit(c, req, path, route.admin);
  const declared = Number(req.headers["content-length"] ?? (req.headers["transfer-encoding"] === undefined ? 0 : NaN));
  const hasBody = route.body !== "none" && declared !== 0;
  if ((route.body === "json" || hasBody) && !isJson(req)) throw new HttpError(415, "unsupported_media_type", `${path} takes Content-Type: application/json`);
  if (!hasBody) return route.handler(c, req, Buffer.alloc(0));
  const raw = await readBody(req, c.maxBodyBytes, c.inFlight);
  try {
    return await route.handler(c, req, raw);
  } finally {
    c.inFlight?.release(raw.length);
  }
}

/** The access check of an operator route: a loopback `Host` on loopback, ADMIN_TOKEN when set (always beyond loopback, and for "write"). */
function admit(c: AppContext, req: IncomingMessage, path: string, access: "read" | "write"): void {
  if (c.loopback === true && !isLoopbackHostHeader(req.headers.host)) {
    throw new HttpError(403, "forbidden_host", `${path} answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1])`);
  }
  if (c.adminToken !== undefined) {
    if (!hasBearer(header(req, "authorization"), c.adminToken)) throw c.refuse(path, `${path} needs Authorization: Bearer <ADMIN_TOKEN>`);
    return;
  }
  if (access === "write" || c.loopback !== true) throw new HttpError(401, "unauthorized", `${path} is disabled: set ADMIN_TOKEN`);
}

async function events(c: AppContext, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  if (!unsignedAllowed(c, "/events", c.connectorSecret, "CONNECTOR_SECRET") && !verifyConnectorSignature(raw, header(req, "x-connector-signature"), c.connectorSecret as string)) {
    throw c.refuse("/events", "X-Connector-Signature does not match the body");
  }
  const payload = parsePayload(raw, { maxBytes: c.maxBodyBytes, onWarning: (message) => c.logger.warn(message) });
  if (payload === null) return { status: 202, body: { status: "ignored", reason: "unknown type" } };
  if (payload.type === "summary") {
    if (!c.manager.writer.supportsSummaries) return { status: 202, body: { status: "ignored", reason: "this delivery engine does not run summaries" } };
    return once(
      c.replay,
      `events:${digest(raw)}`,
      async () => {
        const outcome = await c.manager.onSummary(payload, { parsed: true });
        c.logger.debug("summary recorded", { sessionId: payload.session_id, status: outcome.status, snapshot: outcome.snapshot });
        return { status: 202, body: { status: outcome.status, session_id: payload.session_id, redactions: outcome.snapshot } };
      },
      { status: 202, body: { status: "duplicate" } },
    );
  }
  // Engines deduplicate actions themselves, across instances; this process's body guard answers
  // a replay it saw as a duplicate without touching the session (see `actionsReplay`).
  return once(
    c.actionsReplay,
    `events:${digest(raw)}`,
    async () => {
      const started = Date.now();
      const outcome = await c.manager.onActions(payload, { parsed: true });
      const received = payload.actions.length;
      const { newActions: fresh, duplicates } = outcome;
      c.metrics.actionsReceived.inc(fresh);
      c.logger.debug("batch recorded", { sessionId: outcome.sessionId, actions: received, new: fresh, duplicates, linked: outcome.conversationId !== null, durationMs: Date.now() - started });
      return { status: 202, body: { status: "accepted", session_id: outcome.sessionId, actions: received, new: fresh, duplicates } };
    },
    { status: 202, body: { status: "duplicate" } },
  );
}

async function readiness(c: AppContext): Promise<Reply> {
  const ok = await c.ready().catch(() => false);
  return { status: ok ? 200 : 503, body: { status: ok ? "ready" : "not_ready" } };
}
