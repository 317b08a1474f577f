/**
 * End to end on the service boundary (issue 8): the real CLI refusing unsafe setups, bounding
 * stalled uploads, handling repeated signals, guarding the reading routes, logging at debug, and
 * keeping dead letters in Redis across a restart.
 */
import { connect, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RedisConnection } from "../../src/redis/connection.js";
import { sign } from "../../src/server/signatures.js";
import { runBridgeToExit, startBridgeProcess, type BridgeProcess } from "../support/bridge-process.js";
import { startFakeIntercom, type FakeIntercom } from "../support/fake-platforms.js";
import { connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../support/redis.js";

const CONNECTOR_SECRET = "connector-secret-boundary";
const CLIENT_SECRET = "client-secret-boundary";
const cleanups: Array<() => Promise<unknown>> = [];
const now = () => Date.now() / 1000;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeIntercom(): Promise<FakeIntercom> {
  const fake = await startFakeIntercom({ token: "t", adminId: "1" });
  cleanups.push(() => fake.close());
  return fake;
}

async function intercomBridge(fake: FakeIntercom, env: Record<string, string> = {}): Promise<BridgeProcess> {
  const bridge = await startBridgeProcess({
    DESTINATION: "intercom",
    INTERCOM_TOKEN: "t",
    INTERCOM_ADMIN_ID: "1",
    INTERCOM_API_BASE: fake.url,
    INTERCOM_CLIENT_SECRET: CLIENT_SECRET,
    CONNECTOR_SECRET,
    POST_LINK_DEBOUNCE_MS: "100",
    POST_TIMEOUT_MS: "1000",
    ...env,
  });
  cleanups.push(() => bridge.stop("SIGKILL"));
  return bridge;
}

function sendActions(bridge: BridgeProcess, sessionId: string, descriptions: string[], first = 0): Promise<Response> {
  const body = JSON.stringify({ type: "actions", product_id: "e2e", session_id: sessionId, actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: now() })) });
  return fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json", "x-connector-signature": sign.connector(body, CONNECTOR_SECRET) } });
}

function link(bridge: BridgeProcess, sessionId: string, conversationId: string): Promise<Response> {
  const body = JSON.stringify({ type: "notification_event", id: `n-${conversationId}`, topic: "conversation.user.created", data: { item: { id: conversationId, custom_attributes: { session_id: sessionId } } } });
  return fetch(`${bridge.url}/webhooks/intercom`, { method: "POST", body, headers: { "content-type": "application/json", "x-hub-signature": sign.intercom(body, CLIENT_SECRET) } });
}

describe("secure by default (issue 8.1)", () => {
  it("refuses to start the README's Intercom setup without a webhook secret, naming it", async () => {
    const { code, stderr } = await runBridgeToExit({ DESTINATION: "intercom", INTERCOM_TOKEN: "t", INTERCOM_ADMIN_ID: "1", CONNECTOR_SECRET });
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid setting INTERCOM_CLIENT_SECRET: required with DESTINATION=intercom/);
  });

  it("refuses the inbox default bound beyond loopback without secrets", async () => {
    const { code, stderr } = await runBridgeToExit({ HOST: "0.0.0.0" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/CONNECTOR_SECRET: required with DESTINATION=inbox bound beyond loopback/);
  });

  it("mounts only the destination's webhook route, and logs ALLOW_UNSIGNED loudly", async () => {
    const fake = await fakeIntercom();
    const bridge = await intercomBridge(fake, { INTERCOM_CLIENT_SECRET: "", CONNECTOR_SECRET: "", ALLOW_UNSIGNED: "true" });
    expect(bridge.logs.find((l) => String(l.message).startsWith("ALLOW_UNSIGNED=true"))).toMatchObject({ level: "error", routes: ["POST /events (CONNECTOR_SECRET unset)", "POST /webhooks/intercom (INTERCOM_CLIENT_SECRET unset)"] });
    const zendesk = await fetch(`${bridge.url}/webhooks/zendesk`, { method: "POST", body: JSON.stringify({ ticket_id: 1, session_id: "s" }), headers: { "content-type": "application/json" } });
    expect(zendesk.status).toBe(404);
  });
});

/** Sends headers declaring `declared` bytes, then `bytes` of body, then stalls. */
async function stalledUpload(port: number, bytes: number, declared: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(`{"actions":[{"description":"${"x".repeat(bytes)}`);
  return socket;
}

describe("resources before authentication (issue 8.5)", () => {
  it("300 stalled unsigned uploads of 256 KiB each add far less than their 75 MiB to the RSS", async () => {
    const fake = await fakeIntercom();
    const bridge = await intercomBridge(fake, { MAX_INFLIGHT_BYTES: String(4 * 1024 * 1024), LOG_LEVEL: "info" });
    const port = Number(new URL(bridge.url).port);
    const before = bridge.rss();
    const sockets: Socket[] = [];
    for (let i = 0; i < 300; i++) sockets.push(await stalledUpload(port, 256 * 1024, 1024 * 1024));
    await new Promise((r) => setTimeout(r, 1500));
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    const inFlight = Number(/^bridge_request_bytes_in_flight (\d+)$/m.exec(metrics)?.[1]);
    const grown = bridge.rss() - before;
    for (const socket of sockets) socket.destroy();
    expect(inFlight).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(metrics).toMatch(/bridge_requests_total\{route="\/events",status="503"\} \d+/);
    expect(grown).toBeLessThan(40 * 1024 * 1024);
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe("signals (issue 8.6)", () => {
  it("logs a second SIGTERM and keeps draining; a third forces exit and says what it loses", async () => {
    const fake = await fakeIntercom();
    const bridge = await intercomBridge(fake, { SHUTDOWN_TIMEOUT_MS: "20000" });
    await link(bridge, "ph-sig", "conv-sig");
    fake.faults.push({ hang: true });
    await sendActions(bridge, "ph-sig", ["pending at shutdown"]);
    await vi.waitFor(() => expect(fake.requests.some((r) => r.path === "/conversations/conv-sig/reply")).toBe(true), { timeout: 5000 });
    bridge.signal("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    bridge.signal("SIGTERM");
    await new Promise((r) => setTimeout(r, 700));
    expect(bridge.child.exitCode).toBeNull();
    expect(bridge.logs.find((l) => String(l.message).startsWith("received SIGTERM again"))).toMatchObject({ level: "warn", store: "memory" });
    bridge.signal("SIGINT");
    expect(await bridge.exited).toBe(1);
    expect(bridge.logs.find((l) => String(l.message).includes("forced exit"))).toMatchObject({ level: "error", store: "memory", inFlight: 1, lost: expect.stringContaining("in-flight note") as unknown });
  }, 20_000);

  it("a second SIGINT does not cut a drain short: the pending note is delivered and the exit is 0", async () => {
    const fake = await fakeIntercom();
    const bridge = await intercomBridge(fake, { POST_LINK_DEBOUNCE_MS: "5000" });
    await link(bridge, "ph-int", "conv-int");
    await vi.waitFor(() => expect(fake.notesIn("conv-int")).toHaveLength(0));
    await sendActions(bridge, "ph-int", ["pending"]);
    bridge.signal("SIGINT");
    bridge.signal("SIGINT");
    expect(await bridge.exited).toBe(0);
    expect(fake.notesIn("conv-int").map((n) => n.body)).toEqual([expect.stringContaining("pending") as unknown]);
  });
});

describe("reading routes (issue 8.9) and logs (issue 8.11)", () => {
  it("answers /inbox only to loopback Host names, and logs batches and notes at debug without their text", async () => {
    const bridge = await startBridgeProcess({ LINK_TOKEN: "lt", LOG_LEVEL: "debug", POST_LINK_DEBOUNCE_MS: "50" });
    cleanups.push(() => bridge.stop("SIGKILL"));
    const { request } = await import("node:http");
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        request(`${bridge.url}/inbox`, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on("error", reject).end();
      });
    expect(await status(new URL(bridge.url).host)).toBe(200);
    expect(await status("attacker.example")).toBe(403);
    const body = JSON.stringify({ type: "actions", session_id: "ph-dbg", actions: [{ index: 0, description: "private text", timestamp_start: now() }] });
    expect((await fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json" } })).status).toBe(202);
    await fetch(`${bridge.url}/links`, { method: "POST", body: JSON.stringify({ session_id: "ph-dbg", conversation_id: "c-dbg" }), headers: { "content-type": "application/json", authorization: "Bearer lt" } });
    await vi.waitFor(() => expect(bridge.logs.some((l) => l.message === "note delivered")).toBe(true), { timeout: 5000 });
    expect(bridge.logs.find((l) => l.message === "batch recorded")).toMatchObject({ level: "debug", sessionId: "ph-dbg", actions: 1 });
    expect(bridge.logs.find((l) => l.message === "note delivered")).toMatchObject({ level: "debug", sessionId: "ph-dbg", conversationId: "c-dbg", actions: 1 });
    expect(bridge.logs.find((l) => l.message === "session linked")).toMatchObject({ level: "info", conversationId: "c-dbg" });
    expect(JSON.stringify(bridge.logs.filter((l) => l.level === "debug" || l.level === "info"))).not.toContain("private text");
  });

  it("warns at start when Redis is unreachable, and rate-limits the repeated failures", async () => {
    const bridge = await startBridgeProcess({ REDIS_URL: "redis://127.0.0.1:1", LOG_LEVEL: "info" });
    cleanups.push(() => bridge.stop("SIGKILL"));
    const body = JSON.stringify({ type: "actions", session_id: "ph-down", actions: [{ index: 0, description: "x", timestamp_start: now() }] });
    for (let i = 0; i < 5; i++) expect((await fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json" } })).status).toBe(503);
    await new Promise((r) => setTimeout(r, 2500));
    expect(bridge.logs.filter((l) => String(l.message).startsWith("REDIS_URL is configured but Redis is unreachable"))).toHaveLength(1);
    // The poller tries every 500 ms and every request fails alike: one line each per window.
    expect(bridge.logs.filter((l) => l.message === "polling for due sessions failed").length).toBeLessThanOrEqual(1);
    expect(bridge.logs.filter((l) => l.message === "request not recorded")).toHaveLength(1);
  });

  it("at LOG_LEVEL=info, logs no batch lines", async () => {
    const bridge = await startBridgeProcess({ LOG_LEVEL: "info" });
    cleanups.push(() => bridge.stop("SIGKILL"));
    const body = JSON.stringify({ type: "actions", session_id: "ph-info", actions: [{ index: 0, description: "x", timestamp_start: now() }] });
    await fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(bridge.logs.some((l) => l.level === "debug")).toBe(false);
  });
});

describe("dead letters with Redis (issue 8.8)", () => {
  let redis: RedisConnection;
  const prefix = uniquePrefix("e2e-dead");

  beforeAll(async () => {
    redis = await connectTestRedis();
  });

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.close();
  });

  it("keeps them across a restart, lists them behind ADMIN_TOKEN and re-drives them to the session's current conversation", async () => {
    const fake = await fakeIntercom();
    const env = { REDIS_URL: redisUrl(), REDIS_KEY_PREFIX: prefix, ADMIN_TOKEN: "admin-e2e" };
    const admin = { authorization: "Bearer admin-e2e" };
    const first = await intercomBridge(fake, env);
    await link(first, "ph-dead", "conv-dead");
    fake.deleteConversation("conv-dead");
    await sendActions(first, "ph-dead", ["must not vanish"]);
    await vi.waitFor(async () => expect(((await (await fetch(`${first.url}/dead-letters`, { headers: admin })).json()) as { count: number }).count).toBe(1), { timeout: 8000 });
    expect(await first.stop("SIGTERM")).toBe(0);

    const second = await intercomBridge(fake, env);
    expect((await fetch(`${second.url}/dead-letters`)).status).toBe(401);
    const listed = (await (await fetch(`${second.url}/dead-letters`, { headers: admin })).json()) as { dead_letters: Array<{ id: string; actions: Array<{ description: string }> }> };
    expect(listed.dead_letters.map((l) => l.actions.map((a) => a.description))).toEqual([["must not vanish"]]);
    // The session moves to a new conversation; the re-drive goes there.
    await link(second, "ph-dead", "conv-new");
    const redriven = await fetch(`${second.url}/dead-letters/redrive`, { method: "POST", body: JSON.stringify({ ids: [listed.dead_letters[0]?.id] }), headers: { "content-type": "application/json", ...admin } });
    expect(await redriven.json()).toMatchObject({ requeued: 1, missing: [] });
    await vi.waitFor(() => expect(fake.notesIn("conv-new").map((n) => n.body).join("\n")).toContain("must not vanish"), { timeout: 8000 });
    expect(((await (await fetch(`${second.url}/dead-letters`, { headers: admin })).json()) as { count: number }).count).toBe(0);
  }, 40_000);
});
