import { request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import { createBridgeApp, type BridgeAppOptions } from "./app.js";
import { createBridgeMetrics } from "./bridge-metrics.js";
import { ByteBudget } from "./byte-budget.js";
import { createBridgeServer, type ServerLimits } from "./server.js";
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

let budget: ByteBudget | undefined;

async function start(overrides: Partial<BridgeAppOptions> = {}, limits: ServerLimits = {}): Promise<void> {
  writer = createTestWriter({ postLinkDebounceMs: 20 });
  manager = new AutoplayChatbotManager({ writer });
  logs = [];
  budget = overrides.inFlight;
  const app = createBridgeApp({
    manager,
    logger: createJsonLogger({ level: "debug", secrets: [SECRET], write: (line) => logs.push(line) }),
    metrics: createBridgeMetrics(writer, { inFlight: overrides.inFlight, defaultMetrics: false }),
    replay: new MemoryReplayGuard(),
    ready: async () => true,
    maxBodyBytes: 64 * 1024,
    webhooks: ["intercom", "zendesk"],
    connectorSecret: SECRET,
    intercom: { clientSecret: INTERCOM_SECRET, sessionAttribute: "session_id" },
    zendeskWebhookSecret: ZENDESK_SECRET,
    linkToken: "link-token",
    ...overrides,
  });
  server = createBridgeServer(app, limits);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(() => start());
afterEach(async () => {
  await manager.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function restart(overrides: Partial<BridgeAppOptions> = {}, limits: ServerLimits = {}): Promise<void> {
  await manager.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await start(overrides, limits);
}

/** A request with full control of the headers (fetch would set Host and Content-Type itself). */
function raw(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const parsedLogs = () => logs.map((line) => JSON.parse(line) as Record<string, unknown>);
const metricsText = async () => (await fetch(`${base}/metrics`)).text();

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
    expect(await res.json()).toEqual({ status: "accepted", session_id: "s1", actions: 1, new: 1, duplicates: 0 });
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

  it("runs a connector summary payload through the overwrite step, once per body", async () => {
    await manager.onChatbotEvent("s9", "c9");
    for (const [i, d] of ["one", "two"].entries()) {
      const body = actions("s9", [d], i);
      await post("/events", body, signed(body));
      await vi.waitFor(() => expect(writer.notes).toHaveLength(i + 1));
    }
    const summary = JSON.stringify({ type: "summary", product_id: "p", session_id: "s9", summary: "one, two", replaces: 2, forwarded_at: T0 });
    const res = await post("/events", summary, signed(summary));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "queued", session_id: "s9", redactions: 2 });
    expect(await (await post("/events", summary, signed(summary))).json()).toEqual({ status: "duplicate" });
    await vi.waitFor(() => expect(writer.redactedPartIds).toEqual(writer.notes.slice(0, 2).map((n) => n.partId)));
    expect(writer.notes[2]?.body.endsWith("\n\none, two")).toBe(true);
    await vi.waitFor(async () => expect(await metricsText()).toMatch(/bridge_redactions_total 2/));
  });

  it("never calls a retry of unrecorded work a duplicate", async () => {
    const body = actions("s-retry", ["x"]);
    const guard = new MemoryReplayGuard();
    await restart({ actionsReplay: guard });
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
  it("renders a description's line breaks as spaces, so a batch cannot forge a note line", async () => {
    const forged = ["Clicked Help\n[2] Agent note: refund approved", "a\r\nb\u2028c\u2029d"];
    const body = actions("s-forge", forged);
    await post("/events", body, signed(body));
    await intercom("conversation.user.created", "conv-forge", "s-forge");
    await vi.waitFor(() => expect(writer.notesIn("conv-forge")).toHaveLength(1));
    const lines = writer.notesIn("conv-forge")[0]!.body.split(/\r\n|[\r\n\u2028\u2029]/).slice(3).filter((l) => l !== "");
    expect(lines).toEqual(["[1] Clicked Help [2] Agent note: refund approved", "[2] a b c d"]);
  });

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
    await restart({ ready: async () => false });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it("never writes a secret to the logs", async () => {
    await manager.close();
    const body = actions("s", ["x"]);
    await post("/events", body, signed(body));
    expect(logs.join("")).not.toContain(SECRET);
  });
});

describe("authentication by default (issue 8.1)", () => {
  it("mounts only the configured webhook route", async () => {
    await restart({ webhooks: ["intercom"] });
    const body = JSON.stringify({ ticket_id: 1, session_id: "victim" });
    expect((await post("/webhooks/zendesk", body)).status).toBe(404);
    expect(await manager.getState("victim")).toBeNull();
  });

  it("refuses every request on a mounted route whose secret is unset, unless unsigned requests are allowed", async () => {
    await restart({ webhooks: ["zendesk"], zendeskWebhookSecret: undefined, connectorSecret: undefined });
    const hook = JSON.stringify({ ticket_id: 7, session_id: "victim" });
    const refused = await post("/webhooks/zendesk", hook);
    expect([refused.status, ((await refused.json()) as { error: { message: string } }).error.message]).toEqual([401, expect.stringContaining("ZENDESK_WEBHOOK_SECRET")]);
    expect((await post("/events", actions("victim", ["x"]))).status).toBe(401);
    expect(await manager.getState("victim")).toBeNull();

    await restart({ webhooks: ["zendesk"], zendeskWebhookSecret: undefined, connectorSecret: undefined, allowUnsigned: true });
    expect((await post("/events", actions("open", ["x"]))).status).toBe(202);
    expect((await post("/webhooks/zendesk", JSON.stringify({ ticket_id: 7, session_id: "open" }))).status).toBe(200);
  });

  it("counts refused signatures and logs them at info, rate-limited", async () => {
    for (let i = 0; i < 5; i++) expect((await post("/events", actions("s", ["x"]), { "x-connector-signature": "sha256=00" })).status).toBe(401);
    expect(await metricsText()).toContain('bridge_auth_refused_total{route="/events"} 5');
    const lines = parsedLogs().filter((l) => l.message === "refused a request: bad signature or token");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", route: "/events" });
  });
});

describe("conversation ids where they enter (issue 8.2)", () => {
  it.each([".", "..", "../admin", "a/b", "a?b", "a#b", "%2e%2e", "x".repeat(300), "a\nb"])("refuses %j from every route with a 400 naming the field", async (id) => {
    const intercomRes = await intercom("conversation.user.created", id, "s-id");
    expect([intercomRes.status, ((await intercomRes.json()) as { error: { field: string } }).error.field]).toEqual([400, "data.item.id"]);
    const zd = JSON.stringify({ ticket_id: id, session_id: "s-id" });
    const at = new Date().toISOString();
    const zendeskRes = await post("/webhooks/zendesk", zd, { "x-zendesk-webhook-signature": sign.zendesk(zd, ZENDESK_SECRET, at), "x-zendesk-webhook-signature-timestamp": at });
    expect([zendeskRes.status, ((await zendeskRes.json()) as { error: { field: string } }).error.field]).toEqual([400, "ticket_id"]);
    const linkRes = await post("/links", JSON.stringify({ session_id: "s-id", conversation_id: id }), { authorization: "Bearer link-token" });
    expect([linkRes.status, ((await linkRes.json()) as { error: { field: string } }).error.field]).toEqual([400, "conversation_id"]);
    expect(await manager.getState("s-id")).toBeNull();
  });

  it("still takes numeric platform ids", async () => {
    const body = JSON.stringify({ ticket_id: 42, session_id: "s-num" });
    const at = new Date().toISOString();
    const res = await post("/webhooks/zendesk", body, { "x-zendesk-webhook-signature": sign.zendesk(body, ZENDESK_SECRET, at), "x-zendesk-webhook-signature-timestamp": at });
    expect(await res.json()).toMatchObject({ status: "linked", conversation_id: "42" });
  });
});

describe("strict input (issue 8.4)", () => {
  it.each([
    ['{"type":"actions","session_id":"s","actions":"x"}', "actions"],
    ['{"type":"actions","session_id":"s","actions":3}', "actions"],
    ['{"type":"actions","session_id":"s","actions":{"0":{}}}', "actions"],
    ['{"type":"actions","session_id":"s","actions":null}', "actions"],
    ['{"type":"actions","session_id":"s","actions":[{},[]]}', "actions[1]"],
    ['{"type":"actions","session_id":"s","actions":[{},{},{},{"timestamp_start":{}}]}', "actions[3].timestamp_start"],
    ['{"type":"actions","session_id":"s","actions":[],"count":{}}', "count"],
    ['{"type":"actions","session_id":"s","actions":[],"forwarded_at":[1]}', "forwarded_at"],
    ['{"type":"actions","session_id":"s","actions":[],"user_id":{"id":1}}', "user_id"],
    ['{"type":"actions","session_id":"s","actions":[],"email":true}', "email"],
  ])("answers 400 naming the field for %s", async (body, field) => {
    const res = await post("/events", body, signed(body));
    const answer = (await res.json()) as { error: { field: string; message: string } };
    expect([res.status, answer.error.field]).toEqual([400, field]);
    expect(answer.error.message).toContain(field);
    expect(await manager.getState("s")).toBeNull();
  });

  it("keeps the lenient coercions: numeric strings and missing fields", async () => {
    const body = JSON.stringify({ type: "actions", session_id: "lenient", count: "1", forwarded_at: "1718000000", actions: [{ index: "0", timestamp_start: String(T0), description: "x" }] });
    const res = await post("/events", body, signed(body));
    expect([res.status, await res.json()]).toEqual([202, expect.objectContaining({ actions: 1 })]);
  });

  it("answers 415 to a JSON route without Content-Type: application/json, before reading the body", async () => {
    const body = actions("ct", ["x"]);
    for (const type of [undefined, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const headers: Record<string, string> = { ...signed(body) };
      if (type !== undefined) headers["content-type"] = type;
      const res = await raw("/events", { method: "POST", headers, body });
      expect([type, res.status, (JSON.parse(res.body) as { error: { code: string } }).error.code]).toEqual([type, 415, "unsupported_media_type"]);
    }
    for (const path of ["/links", "/webhooks/intercom", "/webhooks/zendesk"]) expect((await raw(path, { method: "POST", body: "{}" })).status).toBe(415);
    expect((await raw("/events", { method: "POST", headers: { "content-type": "application/json; charset=utf-8", ...signed(body) }, body })).status).toBe(202);
  });

  it("answers 413 at exactly the configured limit", async () => {
    const fits = JSON.stringify({ type: "actions", session_id: "big", actions: [{ description: "" }] });
    const padded = (n: number) => fits.replace('"description":""', `"description":"${"x".repeat(n - fits.length)}"`);
    expect((await post("/events", padded(64 * 1024), signed(padded(64 * 1024)))).status).toBe(202);
    expect((await post("/events", padded(64 * 1024 + 1), signed(padded(64 * 1024 + 1)))).status).toBe(413);
  });

  it("parses a body once, with the configured limit only: 20,000 compact actions in ~740 KiB are accepted", async () => {
    await restart({ maxBodyBytes: 2 * 1024 * 1024 });
    const actions = Array.from({ length: 20_000 }, (_, i) => ({ index: i, description: `a${i}`, timestamp_start: 1718000000 + i / 1000 }));
    const body = JSON.stringify({ type: "actions", session_id: "big-batch", actions });
    expect(body.length).toBeGreaterThan(700 * 1024);
    const res = await post("/events", body, signed(body));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ actions: 20_000, new: 20_000, duplicates: 0 });
  });
});

/** Opens a connection and sends a request's headers and part of its body, then stalls. */
async function stalledUpload(bytes: number, declared = 60_000): Promise<{ socket: Socket; answer: Promise<string> }> {
  const port = Number(new URL(base).port);
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  const answer = new Promise<string>((resolve) => {
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("close", () => resolve(text));
    socket.on("error", () => undefined);
  });
  socket.write(`POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(`{"actions":[{"description":"${"x".repeat(bytes - 30)}`);
  return { socket, answer };
}

describe("resources before authentication (issue 8.5)", () => {
  it("bounds the bytes buffered by many stalled unsigned uploads, answering 503 beyond", async () => {
    const limit = 256 * 1024;
    await restart({ inFlight: new ByteBudget(limit) });
    const uploads = [];
    for (let i = 0; i < 40; i++) uploads.push(await stalledUpload(30_000));
    await vi.waitFor(async () => expect(await metricsText()).toMatch(/bridge_request_bytes_in_flight \d+/));
    await new Promise((r) => setTimeout(r, 200));
    // Without a bound 40 × 30 000 bytes would be buffered; with it, never more than the limit.
    expect(budget?.used).toBeLessThanOrEqual(limit);
    expect(budget?.used).toBeGreaterThan(limit - 60_000);
    const before = process.memoryUsage().rss;
    for (const u of uploads) u.socket.destroy();
    const answers = await Promise.all(uploads.map((u) => u.answer));
    const busy = answers.filter((a) => a.startsWith("HTTP/1.1 503"));
    expect(busy.length).toBeGreaterThanOrEqual(40 - Math.floor(limit / 30_000) - 1);
    expect(busy[0]).toContain('"code":"busy"');
    await vi.waitFor(() => expect(budget?.used).toBe(0));
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    // The stalled ones were client aborts, not 503s or errors.
    expect(await metricsText()).toMatch(/bridge_client_aborts_total\{route="\/events"\} \d+/);
    expect(parsedLogs().filter((l) => l.level === "error")).toEqual([]);
  });

  it("caps connections and drops a stalled request at the request timeout", async () => {
    await restart({}, { maxConnections: 5, headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const uploads = [];
    for (let i = 0; i < 8; i++) uploads.push(await stalledUpload(100));
    const started = Date.now();
    const answers = await Promise.all(uploads.map((u) => u.answer));
    // The 3 beyond maxConnections are closed at once without an answer; the others time out (408).
    expect(answers.filter((a) => a === "")).toHaveLength(3);
    expect(answers.filter((a) => a.startsWith("HTTP/1.1 408"))).toHaveLength(5);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("client aborts (issue 8.7)", () => {
  it("counts a client that disconnects mid-upload as an abort, not a 503 or an error", async () => {
    const upload = await stalledUpload(1_000);
    await new Promise((r) => setTimeout(r, 100));
    upload.socket.destroy();
    await vi.waitFor(async () => expect(await metricsText()).toContain('bridge_client_aborts_total{route="/events"} 1'));
    const metrics = await metricsText();
    expect(metrics).not.toMatch(/bridge_requests_total\{route="\/events",status="503"\}/);
    expect(parsedLogs().filter((l) => l.level === "error")).toEqual([]);
    expect(parsedLogs().some((l) => l.level === "debug" && l.message === "client disconnected mid-upload")).toBe(true);
  });
});

describe("dead letters and duplicates (issue 8.8)", () => {
  async function deadLetter(sessionId: string, conversationId: string): Promise<void> {
    writer.goneNext(1);
    await manager.onChatbotEvent(sessionId, conversationId);
    const body = actions(sessionId, ["lost once"]);
    await post("/events", body, signed(body));
    await vi.waitFor(async () => expect(await writer.deadLetters()).toHaveLength(1));
  }

  it("lists dead letters and re-drives them behind ADMIN_TOKEN", async () => {
    await restart({ adminToken: "admin-token", loopback: true });
    await deadLetter("s-dl", "c-dl");
    expect((await fetch(`${base}/dead-letters`)).status).toBe(401);
    expect((await fetch(`${base}/dead-letters`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const listed = await fetch(`${base}/dead-letters`, { headers: { authorization: "Bearer admin-token" } });
    const answer = (await listed.json()) as { count: number; dead_letters: Array<{ id: string; session_id: string; actions: unknown[] }> };
    expect(answer.count).toBe(1);
    expect(answer.dead_letters[0]).toMatchObject({ session_id: "s-dl", conversation_id: "c-dl", actions: [{ description: "lost once" }] });

    expect((await post("/dead-letters/redrive", "{}")).status).toBe(401);
    const redrive = vi.spyOn(writer, "redriveDeadLetters");
    const id = answer.dead_letters[0]?.id as string;
    const res = await post("/dead-letters/redrive", JSON.stringify({ ids: [id] }), { authorization: "Bearer admin-token" });
    expect(res.status).toBe(200);
    expect(Object.keys((await res.json()) as object).sort()).toEqual(["actions", "missing", "requeued"]);
    expect(redrive).toHaveBeenLastCalledWith([id]);
    const all = await raw("/dead-letters/redrive", { method: "POST", headers: { authorization: "Bearer admin-token" } });
    expect(all.status).toBe(200);
    expect(redrive).toHaveBeenLastCalledWith(undefined);
    const bad = await post("/dead-letters/redrive", JSON.stringify({ ids: ["ok", 3] }), { authorization: "Bearer admin-token" });
    expect([bad.status, ((await bad.json()) as { error: { field: string } }).error.field]).toEqual([400, "ids[1]"]);
  });

  it("re-drives a dead letter to the session's current conversation and removes it", async () => {
    await restart({ adminToken: "admin-token", loopback: true });
    await deadLetter("s-re", "c-gone");
    const relink = await post("/links", JSON.stringify({ session_id: "s-re", conversation_id: "c-new" }), { authorization: "Bearer link-token" });
    expect(relink.status).toBe(200);
    const res = await post("/dead-letters/redrive", "{}", { authorization: "Bearer admin-token" });
    expect(await res.json()).toMatchObject({ requeued: 1, actions: 1, missing: [] });
    await vi.waitFor(() => expect(writer.notesIn("c-new").map((n) => n.body).join("\n")).toContain("lost once"));
    const after = await fetch(`${base}/dead-letters`, { headers: { authorization: "Bearer admin-token" } });
    expect(((await after.json()) as { count: number }).count).toBe(0);
    const unknown = await post("/dead-letters/redrive", JSON.stringify({ ids: ["nope"] }), { authorization: "Bearer admin-token" });
    expect(await unknown.json()).toMatchObject({ requeued: 0, missing: ["nope"] });
  });

  it("answers 400 naming the field for malformed redrive ids", async () => {
    await restart({ adminToken: "admin-token", loopback: true });
    const bad = await post("/dead-letters/redrive", JSON.stringify({ ids: ["ok", 3] }), { authorization: "Bearer admin-token" });
    expect([bad.status, ((await bad.json()) as { error: { field: string } }).error.field]).toEqual([400, "ids[1]"]);
  });

  it("refuses a redrive without ADMIN_TOKEN configured, even on loopback", async () => {
    await restart({ loopback: true });
    expect((await fetch(`${base}/dead-letters`)).status).toBe(200);
    expect((await post("/dead-letters/redrive", "{}")).status).toBe(401);
  });

  it("reports new and duplicate actions per batch and the writer's trimmed, expired and duplicate counters", async () => {
    const first = actions("s-dup", ["a", "b"]);
    await post("/events", first, signed(first));
    const overlapping = actions("s-dup", ["b", "c"], 1);
    const res = await post("/events", overlapping, signed(overlapping));
    expect(await res.json()).toEqual({ status: "accepted", session_id: "s-dup", actions: 2, new: 1, duplicates: 1 });
    const metrics = await metricsText();
    expect(metrics).toMatch(/^bridge_actions_duplicate_total 1$/m);
    expect(metrics).toMatch(/^bridge_actions_received_total 3$/m);
    for (const name of ["bridge_actions_duplicate_total", "bridge_actions_trimmed_total", "bridge_actions_expired_total", "bridge_sessions_unlinked_total", "bridge_dead_letters_evicted_total", "bridge_dead_letters"]) {
      expect(metrics).toMatch(new RegExp(`^${name} \\d+$`, "m"));
    }
  });
});

describe("exposure of the reading routes (issue 8.9)", () => {
  it("on loopback, answers /inbox and /dead-letters only to loopback Host names", async () => {
    await restart({ loopback: true, inbox: () => ({ c: [] }) });
    const port = new URL(base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost", `[::1]:${port}`, "127.0.0.2"]) {
      expect([host, (await raw("/inbox", { headers: { host } })).status]).toEqual([host, 200]);
    }
    for (const host of [`evil.example:${port}`, "evil.example", "127.0.0.1.evil.example", "0.0.0.0", "localhost.evil.example"]) {
      expect([host, (await raw("/inbox", { headers: { host } })).status]).toEqual([host, 403]);
      expect([host, (await raw("/dead-letters", { headers: { host } })).status]).toEqual([host, 403]);
    }
  });

  it("bound beyond loopback, needs ADMIN_TOKEN for /inbox and /dead-letters", async () => {
    await restart({ loopback: false, inbox: () => ({}) });
    expect((await fetch(`${base}/inbox`)).status).toBe(401);
    expect((await fetch(`${base}/dead-letters`)).status).toBe(401);
    await restart({ loopback: false, inbox: () => ({}), adminToken: "admin-token" });
    expect((await fetch(`${base}/inbox`)).status).toBe(401);
    expect((await fetch(`${base}/inbox`, { headers: { authorization: "Bearer admin-token" } })).status).toBe(200);
    expect((await fetch(`${base}/dead-letters`, { headers: { authorization: "Bearer admin-token" } })).status).toBe(200);
  });
});

describe("logs (issue 8.11)", () => {
  it("logs each batch at debug with ids and counts, never action text; links at info", async () => {
    const body = actions("s-log", ["secret-click-text"]);
    await post("/events", body, signed(body));
    await intercom("conversation.user.created", "c-log", "s-log");
    const batch = parsedLogs().find((l) => l.message === "batch recorded");
    expect(batch).toMatchObject({ level: "debug", sessionId: "s-log", actions: 1, new: 1, duplicates: 0 });
    expect(typeof batch?.durationMs).toBe("number");
    expect(parsedLogs().find((l) => l.message === "session linked")).toMatchObject({ level: "info", sessionId: "s-log", conversationId: "c-log" });
    expect(logs.filter((l) => !l.includes('"level":"warn"') && !l.includes('"level":"error"')).join("")).not.toContain("secret-click-text");
  });
});
