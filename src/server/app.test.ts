import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import { createBridgeApp, type BridgeAppOptions } from "./app.js";
import { createBridgeMetrics } from "./bridge-metrics.js";
import { createJsonLogger } from "./logger.js";
import { MemoryReplayGuard } from "./replay-guard.js";
import { sign } from "./signatures.js";

const SECRET = "connector-secret";
const INTERCOM_SECRET = "intercom-secret";
const ZENDESK_SECRET = "zendesk-secret";
const T0 = Math.floor(Date.now() / 1000);

let server: Server;
let base: string;
let writer: RecordingChatbotWriter;
let manager: AutoplayChatbotManager;
let logs: string[];

async function start(overrides: Partial<BridgeAppOptions> = {}): Promise<void> {
  writer = createTestWriter({ postLinkDebounceMs: 20 });
  manager = new AutoplayChatbotManager({ writer });
  logs = [];
  const app = createBridgeApp({
    manager,
    logger: createJsonLogger({ secrets: [SECRET], write: (line) => logs.push(line) }),
    metrics: createBridgeMetrics(writer),
    replay: new MemoryReplayGuard(),
    ready: async () => true,
    maxBodyBytes: 64 * 1024,
    connectorSecret: SECRET,
    intercom: { clientSecret: INTERCOM_SECRET, sessionAttribute: "session_id" },
    zendeskWebhookSecret: ZENDESK_SECRET,
    linkToken: "link-token",
    ...overrides,
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(() => start());
afterEach(async () => {
  await manager.close();
  await new Promise((resolve) => server.close(resolve));
});

function actions(sessionId: string | null, descriptions: string[], first = 0) {
  return JSON.stringify({
    type: "actions",
    product_id: "p",
    session_id: sessionId,
    actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: T0 + first + i })),
  });
}

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

const signed = (body: string) => ({ "x-connector-signature": sign.connector(body, SECRET) });

function intercom(topic: string, conversationId: string, sessionId: string | undefined, id = `notif_${Math.random()}`) {
  const body = JSON.stringify({ type: "notification_event", id, topic, data: { item: { type: "conversation", id: conversationId, custom_attributes: sessionId ? { session_id: sessionId } : {} } } });
  return post("/webhooks/intercom", body, { "x-hub-signature": sign.intercom(body, INTERCOM_SECRET) });
}

describe("POST /events", () => {
  it("accepts a signed payload with 202 and buffers it", async () => {
    const body = actions("s1", ["clicked"]);
    const res = await post("/events", body, signed(body));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "accepted", session_id: "s1", actions: 1 });
    expect((await manager.getState("s1"))?.sessionId).toBe("s1");
  });

  it.each([
    ["a missing header", {}],
    ["a wrong secret", { "x-connector-signature": sign.connector("x", "wrong") }],
    ["the wrong algorithm prefix", { "x-connector-signature": sign.connector("x", SECRET).replace("sha256=", "sha1=") }],
    ["a truncated digest", { "x-connector-signature": "sha256=abcd" }],
  ])("answers 401 for %s and records nothing", async (_, headers: Record<string, string>) => {
    const res = await post("/events", actions("s2", ["x"]), headers);
    expect(res.status).toBe(401);
    expect(await manager.getState("s2")).toBeNull();
  });

  it("answers 400 for bad input, 413 for a huge body, never a 500", async () => {
    const cases: Array<[string, number]> = [
      ["not json", 400],
      ["[1,2]", 400],
      [actions(null, ["x"]), 400],
      [`{"type":"actions","session_id":"s","actions":[{"__proto__":{"polluted":1},"description":"<b>x</b>"}]}`, 202],
      ["[".repeat(50_000), 400],
      [JSON.stringify({ type: "actions", session_id: "s", actions: [{ description: "x".repeat(100_000) }] }), 413],
    ];
    for (const [body, status] of cases) {
      const res = await post("/events", body, signed(body));
      expect([body.slice(0, 20), res.status]).toEqual([body.slice(0, 20), status]);
      expect(((await res.json()) as { error?: { code: string } }).error?.code ?? "ok").toBeTypeOf("string");
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("processes a replayed payload once", async () => {
    const body = actions("s3", ["once"]);
    await post("/events", body, signed(body));
    const again = await post("/events", body, signed(body));
    expect(await again.json()).toEqual({ status: "duplicate" });
    await manager.onChatbotEvent("s3", "c3");
    await vi.waitFor(() => expect(writer.notes).toHaveLength(1));
    expect(writer.notes[0]?.body).toMatch(/\[1\] once$/);
  });

  it("never calls a retry of unrecorded work a duplicate", async () => {
    const body = actions("s-retry", ["x"]);
    const guard = new MemoryReplayGuard();
    await manager.close();
    await new Promise((resolve) => server.close(resolve));
    await start({ replay: guard });
    await guard.begin(`events:${(await import("node:crypto")).createHash("sha256").update(body).digest("hex")}`);
    const whileRunning = await post("/events", body, signed(body));
    expect([whileRunning.status, ((await whileRunning.json()) as { error: { code: string } }).error.code]).toEqual([503, "in_progress"]);
    await manager.close();
    const failed = await post("/events", body, signed(body));
    expect(failed.status).toBe(503);
  });

  it("answers 503 when the work cannot be recorded, so the sender retries", async () => {
    await manager.close();
    const body = actions("s4", ["late"]);
    const res = await post("/events", body, signed(body));
    expect(res.status).toBe(503);
  });
});

describe("POST /webhooks/intercom", () => {
  it("links on conversation.user.created and flushes the buffer there", async () => {
    const body = actions("s5", ["before chat"]);
    await post("/events", body, signed(body));
    const res = await intercom("conversation.user.created", "conv-5", "s5");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "linked", event: "new", conversation_id: "conv-5" });
    await vi.waitFor(() => expect(writer.notesIn("conv-5")).toHaveLength(1));
  });

  it("ignores other topics and conversations without a session id, and processes a notification once", async () => {
    expect(await (await intercom("conversation.admin.replied", "c", "s")).json()).toMatchObject({ status: "ignored" });
    expect(await (await intercom("conversation.user.created", "c", undefined)).json()).toMatchObject({ status: "ignored" });
    await intercom("conversation.user.created", "c6", "s6", "notif_same");
    expect(await (await intercom("conversation.user.created", "c6", "s6", "notif_same")).json()).toEqual({ status: "duplicate" });
  });

  it("maps conversation.user.replied to REPLY_EXISTING: a linked session does not move", async () => {
    await intercom("conversation.user.created", "c7", "s7");
    expect(await (await intercom("conversation.user.replied", "c8", "s7")).json()).toMatchObject({ event: "reply_existing", conversation_id: "c7" });
  });

  it("rejects a bad X-Hub-Signature with 401", async () => {
    const res = await post("/webhooks/intercom", "{}", { "x-hub-signature": "sha1=00" });
    expect(res.status).toBe(401);
  });
});

describe("POST /webhooks/zendesk", () => {
  it("links a ticket with a valid, fresh signature and refuses a stale one", async () => {
    const body = JSON.stringify({ ticket_id: 42, session_id: "s9" });
    const fresh = new Date().toISOString();
    const ok = await post("/webhooks/zendesk", body, { "x-zendesk-webhook-signature": sign.zendesk(body, ZENDESK_SECRET, fresh), "x-zendesk-webhook-signature-timestamp": fresh });
    expect(await ok.json()).toMatchObject({ status: "linked", conversation_id: "42" });
    const stale = new Date(Date.now() - 3_600_000).toISOString();
    const old = await post("/webhooks/zendesk", body, { "x-zendesk-webhook-signature": sign.zendesk(body, ZENDESK_SECRET, stale), "x-zendesk-webhook-signature-timestamp": stale });
    expect(old.status).toBe(401);
  });
});

describe("POST /links", () => {
  it("needs the bearer token, validates the body, and reports a conflict as 409", async () => {
    const body = JSON.stringify({ session_id: "a", conversation_id: "shared" });
    expect((await post("/links", body)).status).toBe(401);
    expect((await post("/links", body, { authorization: "Bearer nope" })).status).toBe(401);
    expect((await post("/links", "{}", { authorization: "Bearer link-token" })).status).toBe(400);
    expect((await post("/links", body, { authorization: "Bearer link-token" })).status).toBe(200);
    const other = JSON.stringify({ session_id: "b", conversation_id: "shared" });
    const conflict = await post("/links", other, { authorization: "Bearer link-token" });
    expect([conflict.status, await conflict.json()]).toEqual([409, { status: "conflict", owner: "a" }]);
  });
});

describe("operations", () => {
  it("serves health, readiness, metrics and JSON errors for unknown routes", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: "ready" });
    const body = actions("m", ["a", "b"]);
    await post("/events", body, signed(body));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("bridge_actions_received_total 2");
    expect(metrics).toContain('bridge_requests_total{route="/events",status="202"} 1');
    expect(metrics).toContain("# TYPE bridge_delivery_seconds histogram");
    const missing = await fetch(`${base}/nope`);
    expect([missing.status, await missing.json()]).toEqual([404, { error: { code: "not_found", message: "no route /nope" } }]);
    expect((await fetch(`${base}/events`)).status).toBe(405);
    expect((await fetch(`${base}/inbox`)).status).toBe(404);
  });

  it("answers 503 on /readyz when the store is unreachable", async () => {
    await manager.close();
    await new Promise((resolve) => server.close(resolve));
    await start({ ready: async () => false });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it("never writes a secret to the logs", async () => {
    await manager.close();
    const body = actions("s", ["x"]);
    await post("/events", body, signed(body));
    expect(logs.join("")).not.toContain(SECRET);
  });
});
