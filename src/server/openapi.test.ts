/**
 * The OpenAPI description against the real app: every route of the description is called (in
 * process, on a loopback port), and every answer's status, content type and JSON body must be
 * what the description says for that route.
 */
import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import { createBridgeApp, type BridgeAppOptions } from "./app.js";
import { createBridgeMetrics } from "./bridge-metrics.js";
import { ByteBudget } from "./byte-budget.js";
import { createInboxPage } from "./inbox/index.js";
import { InboxWriter } from "./inbox-writer.js";
import { createJsonLogger } from "./logger.js";
import { openApiDocument } from "./openapi.js";
import { MemoryReplayGuard } from "./replay-guard.js";
import { createBridgeServer } from "./server.js";
import { sign } from "./signatures.js";
import { checkSchema } from "./test-support/json-schema.js";

const SECRET = "connector-secret";
const INTERCOM_SECRET = "intercom-secret";
const ZENDESK_SECRET = "zendesk-secret";
const ADMIN = { authorization: "Bearer admin-token" };
const T0 = Math.floor(Date.now() / 1000);
const doc = openApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>> };

interface Bridge {
  base: string;
  writer: RecordingChatbotWriter;
  inbox?: InboxWriter;
  close(): Promise<void>;
}
const bridges: Bridge[] = [];
let ready = true;

async function startBridge(overrides: Partial<BridgeAppOptions> = {}, withPage = false): Promise<Bridge> {
  const writer = createTestWriter({ postLinkDebounceMs: 10 });
  const inbox = withPage ? new InboxWriter({ productId: "p", postLinkDebounceMs: 10 }) : undefined;
  const manager = new AutoplayChatbotManager({ writer: inbox ?? writer });
  const page = inbox === undefined ? undefined : createInboxPage(inbox, manager);
  const app = createBridgeApp({
    inboxPage: page?.routes,
    manager,
    logger: createJsonLogger({ level: "error", write: () => undefined }),
    metrics: createBridgeMetrics(writer, { defaultMetrics: false }),
    replay: new MemoryReplayGuard(),
    ready: async () => ready,
    inbox: () => ({ "c-in": [{ id: "note-1", sessionId: "s", body: "b", at: new Date().toISOString() }] }),
    maxBodyBytes: 4096,
    webhooks: ["intercom", "zendesk"],
    connectorSecret: SECRET,
    intercom: { clientSecret: INTERCOM_SECRET, sessionAttribute: "session_id" },
    zendeskWebhookSecret: ZENDESK_SECRET,
    linkToken: "link-token",
    adminToken: "admin-token",
    loopback: true,
    ...overrides,
  });
  const server: Server = createBridgeServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const bridge = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writer,
    inbox,
    close: async () => {
      page?.close();
      await manager.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  bridges.push(bridge);
  return bridge;
}

let main: Bridge;
beforeAll(async () => {
  main = await startBridge();
});
afterAll(async () => {
  for (const bridge of bridges.splice(0)) await bridge.close();
});

interface Call {
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  bridge?: Bridge;
}

/** What the description was checked against: "METHOD path status". */
const seen = new Set<string>();

/** Sends the call and checks the answer against the description; returns its status and JSON body. */
async function call(c: Call): Promise<{ status: number; body: unknown }> {
  const base = (c.bridge ?? main).base;
  const res = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const req = request(`${base}${c.path}`, { method: c.method, headers: c.headers ?? {} }, (r) => {
      let text = "";
      r.setEncoding("utf8");
      r.on("data", (chunk: string) => (text += chunk));
      r.on("end", () => resolve({ status: r.statusCode ?? 0, type: String(r.headers["content-type"] ?? ""), text }));
    });
    req.on("error", reject);
    req.end(c.body);
  });
  const where = `${c.method} ${c.path} → ${res.status}`;
  const operation = doc.paths[c.path]?.[c.method.toLowerCase()];
  expect(operation, `${where}: route not described`).toBeDefined();
  const response = operation?.responses[String(res.status)];
  expect(response, `${where}: status not described (${res.text})`).toBeDefined();
  const mediaType = res.type.split(";")[0]?.trim() ?? "";
  const media = response?.content?.[mediaType];
  expect(media, `${where}: content type ${res.type} not described`).toBeDefined();
  seen.add(`${c.method} ${c.path} ${res.status}`);
  if (mediaType !== "application/json") return { status: res.status, body: res.text };
  const body = JSON.parse(res.text) as unknown;
  expect(checkSchema(media?.schema ?? {}, body, doc as unknown as Record<string, unknown>), where).toEqual([]);
  return { status: res.status, body };
}

const json = (headers: Record<string, string> = {}) => ({ "content-type": "application/json", ...headers });
const actions = (sessionId: string, descriptions: string[], first = 0) =>
  JSON.stringify({ type: "actions", product_id: "p", session_id: sessionId, actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: T0 + first + i })) });
const events = (body: string, headers: Record<string, string> = { "x-connector-signature": sign.connector(body, SECRET) }): Call => ({ method: "POST", path: "/events", headers: json(headers), body });
const intercom = (topic: string, conversationId: unknown, sessionId: string, id = `n-${Math.random()}`) => {
  const body = JSON.stringify({ type: "notification_event", id, topic, data: { item: { type: "conversation", id: conversationId, custom_attributes: { session_id: sessionId } } } });
  return { method: "POST", path: "/webhooks/intercom", headers: json({ "x-hub-signature": sign.intercom(body, INTERCOM_SECRET) }), body } satisfies Call;
};
const zendesk = (ticketId: unknown, sessionId: string) => {
  const body = JSON.stringify({ ticket_id: ticketId, session_id: sessionId });
  const timestamp = new Date().toISOString();
  const headers = json({ "x-zendesk-webhook-signature": sign.zendesk(body, ZENDESK_SECRET, timestamp), "x-zendesk-webhook-signature-timestamp": timestamp });
  return { method: "POST", path: "/webhooks/zendesk", headers, body } satisfies Call;
};
const links = (body: unknown, token = "link-token"): Call => ({ method: "POST", path: "/links", headers: json({ authorization: `Bearer ${token}` }), body: JSON.stringify(body) });

interface Frame {
  event: string;
  data: unknown;
}

/** Opens the SSE feed, checks its status and content type against the description, and collects its frames. */
async function openFeed(bridge: Bridge): Promise<{ frames: Frame[]; close(): void }> {
  const frames: Frame[] = [];
  const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
    const req = request(`${bridge.base}/inbox/feed`, { headers: ADMIN }, resolve);
    req.on("error", reject);
    req.end();
  });
  const media = doc.paths["/inbox/feed"]?.get?.responses[String(res.statusCode)]?.content?.[String(res.headers["content-type"]).split(";")[0] ?? ""];
  expect(media, `GET /inbox/feed → ${res.statusCode} ${res.headers["content-type"]}`).toBeDefined();
  seen.add(`GET /inbox/feed ${res.statusCode}`);
  const schemas = (media as unknown as { "x-sse-events": Record<string, Record<string, unknown>> })["x-sse-events"];
  let buffered = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buffered += chunk;
    const blocks = buffered.split("\n\n");
    buffered = blocks.pop() ?? "";
    for (const block of blocks) {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event === undefined || data === undefined) continue; // retry: and keep-alive comments
      const parsed = JSON.parse(data) as unknown;
      const schema = schemas[event];
      expect(schema, `feed event ${event} not described`).toBeDefined();
      expect(checkSchema(schema ?? {}, parsed, doc as unknown as Record<string, unknown>), `feed event ${event}`).toEqual([]);
      frames.push({ event, data: parsed });
    }
  });
  return { frames, close: () => res.destroy() };
}

describe("the OpenAPI description matches the real answers", () => {
  it("POST /events: accepted, duplicate, ignored and every refusal", async () => {
    const batch = actions("s-ev", ["a", "b"]);
    expect((await call(events(batch))).body).toMatchObject({ status: "accepted", new: 2 });
    expect((await call(events(batch))).body).toEqual({ status: "duplicate" });
    expect((await call(events(JSON.stringify({ type: "mystery" })))).body).toMatchObject({ status: "ignored" });
    expect((await call(events(JSON.stringify({ type: "summary", session_id: "s", summary: "x" })))).body).toMatchObject({ status: "unlinked", session_id: "s" });
    expect((await call(events(batch, { "x-connector-signature": "sha256=00" }))).status).toBe(401);
    expect((await call(events("{", { "x-connector-signature": sign.connector("{", SECRET) }))).status).toBe(400);
    const badField = JSON.stringify({ type: "actions", session_id: "s", actions: "nope" });
    expect((await call(events(badField, { "x-connector-signature": sign.connector(badField, SECRET) }))).body).toMatchObject({ error: { field: "actions" } });
    expect((await call({ method: "POST", path: "/events", headers: { "content-type": "text/plain" }, body: batch })).status).toBe(415);
    expect((await call(events("x".repeat(5000)))).status).toBe(413);
    const busy = await startBridge({ inFlight: new ByteBudget(8) });
    expect((await call({ ...events(batch), bridge: busy })).body).toMatchObject({ error: { code: "busy" } });
  });

  it("the webhooks and POST /links: linked, ignored, duplicate, conflict, refused, bad ids", async () => {
    const created = intercom("conversation.user.created", "c-1", "s-1", "n-fixed");
    expect((await call(created)).body).toMatchObject({ status: "linked", event: "new", conversation_id: "c-1" });
    expect((await call(created)).body).toEqual({ status: "duplicate" });
    expect((await call(intercom("conversation.admin.closed", "c-1", "s-1"))).body).toMatchObject({ status: "ignored" });
    expect((await call(intercom("conversation.user.created", "c-1", "s-other"))).status).toBe(409);
    expect((await call(intercom("conversation.user.created", "a/b", "s-1"))).body).toMatchObject({ error: { field: "data.item.id" } });
    expect((await call({ ...intercom("conversation.user.created", "c-2", "s-2"), headers: json({ "x-hub-signature": "sha1=00" }) })).status).toBe(401);
    expect((await call(zendesk(42, "s-z"))).body).toMatchObject({ status: "linked", conversation_id: "42" });
    expect((await call({ ...zendesk(43, "s-z2"), headers: json() })).status).toBe(401);
    expect((await call(links({ session_id: "s-l", conversation_id: "c-l" }))).body).toMatchObject({ status: "linked" });
    expect((await call(links({ session_id: "s-l2", conversation_id: "c-l" }))).body).toMatchObject({ status: "conflict", owner: "s-l" });
    expect((await call(links({ session_id: "s-l" }))).status).toBe(400);
    expect((await call(links({ session_id: "s", conversation_id: "c" }, "wrong"))).status).toBe(401);
    const unlinked = await startBridge({ linkToken: undefined });
    expect((await call({ ...links({ session_id: "s", conversation_id: "c" }), bridge: unlinked })).status).toBe(404);
  });

  it("the operator routes: /inbox, /dead-letters and the re-drive", async () => {
    expect((await call({ method: "GET", path: "/inbox", headers: ADMIN })).body).toMatchObject({ conversations: { "c-in": [{ id: "note-1" }] } });
    expect((await call({ method: "GET", path: "/inbox", headers: { ...ADMIN, host: "evil.example" } })).status).toBe(403);
    expect((await call({ method: "GET", path: "/inbox" })).status).toBe(401);
    main.writer.goneNext(1);
    await call(links({ session_id: "s-dl", conversation_id: "c-dl" }));
    await call(events(actions("s-dl", ["lost"])));
    await vi.waitFor(async () => expect(await main.writer.deadLetters()).toHaveLength(1));
    const listed = await call({ method: "GET", path: "/dead-letters", headers: ADMIN });
    expect(listed.body).toMatchObject({ count: 1, dead_letters: [{ session_id: "s-dl", reason: "permanent_error" }] });
    expect((await call({ method: "POST", path: "/dead-letters/redrive", headers: json(ADMIN), body: JSON.stringify({ ids: [3] }) })).status).toBe(400);
    expect((await call({ method: "POST", path: "/dead-letters/redrive", headers: json(ADMIN), body: JSON.stringify({ ids: ["nope"] }) })).body).toEqual({ requeued: 0, actions: 0, missing: ["nope"] });
    expect((await call({ method: "POST", path: "/dead-letters/redrive", headers: ADMIN })).body).toMatchObject({ requeued: 1, missing: [] });
    expect((await call({ method: "POST", path: "/dead-letters/redrive" })).status).toBe(401);
  });

  it("the live inbox page, its feed frames and Open chat", async () => {
    const inbox = await startBridge({}, true);
    for (const path of ["/", "/inbox/app.js", "/inbox/app.css"]) expect((await call({ method: "GET", path, bridge: inbox })).status).toBe(200);
    expect((await call({ method: "GET", path: "/", headers: { host: "evil.example" }, bridge: inbox })).status).toBe(403);
    const feed = await openFeed(inbox);
    await vi.waitFor(() => expect(feed.frames.map((f) => f.event)).toContain("snapshot"));
    await call({ ...events(actions("s-page", ["Opened Billing"])), bridge: inbox });
    await vi.waitFor(() => expect(feed.frames.map((f) => f.event)).toContain("session"));
    const openChat = (sessionId: unknown, headers = json(ADMIN)): Call => ({ method: "POST", path: "/inbox/open-chat", headers, body: JSON.stringify({ session_id: sessionId }), bridge: inbox });
    expect((await call(openChat("s-page"))).body).toMatchObject({ status: "linked", session_id: "s-page" });
    await vi.waitFor(() => expect(feed.frames.map((f) => f.event)).toContain("note"));
    expect((await call(openChat("s-page"))).status).toBe(409);
    expect((await call(openChat("s-unknown"))).status).toBe(404);
    expect((await call(openChat(""))).status).toBe(400);
    expect((await call(openChat("s-page", { "content-type": "text/plain", ...ADMIN }))).status).toBe(415);
    expect((await call(openChat("s-page", json()))).status).toBe(401);
    feed.close();
  });

  it("health, readiness, metrics and the description itself", async () => {
    expect((await call({ method: "GET", path: "/healthz" })).body).toEqual({ status: "ok" });
    expect((await call({ method: "GET", path: "/readyz" })).status).toBe(200);
    ready = false;
    expect((await call({ method: "GET", path: "/readyz" })).body).toEqual({ status: "not_ready" });
    ready = true;
    expect(String((await call({ method: "GET", path: "/metrics" })).body)).toContain("bridge_requests_total");
    const served = (await call({ method: "GET", path: "/openapi.json" })).body as { openapi: string; paths: object; info: { version: string } };
    expect(served.openapi).toBe("3.1.0");
    expect(served.paths).toEqual(doc.paths);
    expect(served.info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("called every described operation", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    const called = new Set([...seen].map((s) => s.split(" ").slice(0, 2).join(" ")));
    expect(operations.filter((o) => !called.has(o))).toEqual([]);
  });
});
