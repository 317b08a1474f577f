/**
 * End to end on the other destinations and modes: Zendesk, a home-made HTTP bot, two bridge
 * processes sharing Redis, and SSE pull mode.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { intercomNoteHtml } from "../../src/integrations/index.js";
import type { RedisConnection } from "../../src/redis/connection.js";
import { sign } from "../../src/server/signatures.js";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.js";
import { startFakeHttpBridge, startFakeIntercom, startFakeZendesk, type FakePlatform } from "../support/fake-platforms.js";
import { startFakeConnector } from "../support/fake-sse.js";
import { connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../support/redis.js";

const now = () => Date.now() / 1000;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function bridgeWith(env: Record<string, string>): Promise<BridgeProcess> {
  const bridge = await startBridgeProcess({ POST_LINK_DEBOUNCE_MS: "100", POST_TIMEOUT_MS: "2000", ...env });
  cleanups.push(() => bridge.stop("SIGKILL"));
  return bridge;
}

async function platform<T extends FakePlatform>(started: Promise<T>): Promise<T> {
  const fake = await started;
  cleanups.push(() => fake.close());
  return fake;
}

function actionsBody(sessionId: string, descriptions: string[], first = 0): string {
  return JSON.stringify({
    type: "actions",
    product_id: "e2e",
    session_id: sessionId,
    actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: now() })),
  });
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

describe("bridge → Zendesk", () => {
  it("links a ticket from a signed webhook and posts private comments", async () => {
    const fake = await platform(startFakeZendesk({ email: "agent@acme.test", apiToken: "zd-token" }));
    const bridge = await bridgeWith({
      DESTINATION: "zendesk",
      ZENDESK_API_BASE: fake.url,
      ZENDESK_EMAIL: "agent@acme.test",
      ZENDESK_API_TOKEN: "zd-token",
      ZENDESK_WEBHOOK_SECRET: "zd-secret",
      ZENDESK_MIN_SPACING_MS: "500",
      ALLOW_UNSIGNED: "true",
    });
    await post(`${bridge.url}/events`, actionsBody("ph-z", ["Opened Help"]));
    const hook = JSON.stringify({ ticket_id: 321, session_id: "ph-z" });
    const at = new Date().toISOString();
    const res = await post(`${bridge.url}/webhooks/zendesk`, hook, { "x-zendesk-webhook-signature": sign.zendesk(hook, "zd-secret", at), "x-zendesk-webhook-signature-timestamp": at });
    expect(await res.json()).toMatchObject({ status: "linked", conversation_id: "321" });
    for (let i = 1; i <= 6; i++) {
      await post(`${bridge.url}/events`, actionsBody("ph-z", [`click ${i}`], i));
      await new Promise((r) => setTimeout(r, 120));
    }
    await vi.waitFor(() => expect(fake.notesIn("321").map((n) => n.body).join("\n").match(/click \d/g)).toHaveLength(6), { timeout: 8000 });
    const notes = fake.notesIn("321");
    expect(notes.every((n) => n.public === false)).toBe(true);
    expect(notes[0]?.body).toContain("Opened Help");
    expect(notes.length).toBeLessThan(7); // the per-ticket spacing coalesced the burst
    expect(fake.requests.some((r) => r.status === 429)).toBe(false);
  });
});

describe("bridge → home-made HTTP bot", () => {
  it("posts notes to {endpoint}/conversations/{id}/note after POST /links", async () => {
    const fake = await platform(startFakeHttpBridge({ token: "bot-token" }));
    const bridge = await bridgeWith({ DESTINATION: "http", HTTP_BRIDGE_URL: fake.url, HTTP_BRIDGE_TOKEN: "bot-token", LINK_TOKEN: "link-token", ALLOW_UNSIGNED: "true" });
    await post(`${bridge.url}/events`, actionsBody("ph-h", ["before"]));
    const link = await post(`${bridge.url}/links`, JSON.stringify({ session_id: "ph-h", conversation_id: "bot-7" }), { authorization: "Bearer link-token" });
    expect(link.status).toBe(200);
    await post(`${bridge.url}/events`, actionsBody("ph-h", ["after"], 1));
    await vi.waitFor(() => expect(fake.notesIn("bot-7")).toHaveLength(2), { timeout: 5000 });
    expect(fake.notesIn("bot-7").map((n) => n.body.split("\n\n")[1])).toEqual(["[1] before", "[1] after"]);
  });
});

describe("two bridge processes sharing Redis", () => {
  let redis: RedisConnection;
  const prefix = uniquePrefix("e2e-bridges");

  beforeAll(async () => {
    redis = await connectTestRedis();
  });

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.close();
  });

  it("post the same notes once each while requests alternate between them", async () => {
    const fake = await platform(startFakeIntercom({ token: "t", adminId: "1" }));
    const env = { DESTINATION: "intercom", INTERCOM_TOKEN: "t", INTERCOM_ADMIN_ID: "1", INTERCOM_API_BASE: fake.url, REDIS_URL: redisUrl(), REDIS_KEY_PREFIX: prefix, ALLOW_UNSIGNED: "true" };
    const bridges = [await bridgeWith(env), await bridgeWith(env)];
    const pick = (i: number) => (bridges[i % 2] as BridgeProcess).url;
    const sessions = ["r1", "r2", "r3"];
    let turn = 0;
    for (const sid of sessions) {
      for (let b = 0; b < 3; b++) await post(`${pick(turn++)}/events`, actionsBody(sid, [`${sid} pre ${b}`], b));
      // The same payload reaches both instances: counted once.
      const replay = actionsBody(sid, [`${sid} replayed`], 3);
      await Promise.all(bridges.map((b) => post(`${b.url}/events`, replay)));
    }
    for (const sid of sessions) {
      const body = JSON.stringify({ type: "notification_event", id: `n-${sid}`, topic: "conversation.user.created", data: { item: { id: `conv-${sid}`, custom_attributes: { session_id: sid } } } });
      // The same webhook delivered to both instances links once.
      await Promise.all(bridges.map((b) => post(`${b.url}/webhooks/intercom`, body)));
    }
    for (const sid of sessions) for (let b = 4; b < 7; b++) await post(`${pick(turn++)}/events`, actionsBody(sid, [`${sid} post ${b}`], b));
    const delivered = (sid: string) => fake.notesIn(`conv-${sid}`).map((n) => decode(n.body)).join("\n");
    // A burst split by a slow machine may take more than one note; what matters is each action once.
    await vi.waitFor(() => expect(sessions.every((s) => delivered(s).includes(`${s} post 6`))).toBe(true), { timeout: 8000 });
    await new Promise((r) => setTimeout(r, 500));
    for (const sid of sessions) {
      const bodies = fake.notesIn(`conv-${sid}`).map((n) => n.body);
      expect(bodies.length).toBeGreaterThanOrEqual(2);
      expect(decode(bodies[0] ?? "")).toContain(`${sid} replayed`);
      expect(bodies[0]).toBe(intercomNoteHtml(bodies[0] === undefined ? "" : decode(bodies[0])));
      const text = bodies.map(decode).join("\n");
      for (const label of ["pre 0", "pre 1", "pre 2", "replayed", "post 4", "post 5", "post 6"]) expect(text.match(new RegExp(`${sid} ${label}`, "g"))).toHaveLength(1);
    }
    for (const b of bridges) expect(await b.stop("SIGTERM")).toBe(0);
  }, 30_000);
});

describe("SSE pull mode", () => {
  it("reads payloads, reconnects after the server drops, and stops for good on 401", async () => {
    const connector = await startFakeConnector({ token: "stream-token" });
    cleanups.push(() => connector.close());
    const bridge = await bridgeWith({ CONNECTOR_STREAM_URL: connector.url, CONNECTOR_TOKEN: "stream-token", LINK_TOKEN: "lt" });
    await connector.waitForConnections(1);
    await post(`${bridge.url}/links`, JSON.stringify({ session_id: "ph-sse", conversation_id: "inbox-1" }), { authorization: "Bearer lt" });
    connector.send(JSON.parse(actionsBody("ph-sse", ["streamed"])) as object);
    connector.heartbeat();
    await vi.waitFor(async () => expect(JSON.stringify(await (await fetch(`${bridge.url}/inbox`)).json())).toContain("streamed"), { timeout: 5000 });

    const streamMetrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(streamMetrics).toMatch(/^bridge_stream_connects_total 1$/m);
    expect(streamMetrics).toMatch(/^bridge_stream_connected 1$/m);
    expect(streamMetrics).toMatch(/^bridge_stream_heartbeats_total \d+$/m);

    connector.drop();
    await connector.waitForConnections(2);
    connector.send(JSON.parse(actionsBody("ph-sse", ["after reconnect"], 1)) as object);
    await vi.waitFor(async () => expect(JSON.stringify(await (await fetch(`${bridge.url}/inbox`)).json())).toContain("after reconnect"), { timeout: 8000 });

    connector.respondWith(401);
    connector.drop();
    await vi.waitFor(async () => expect((await fetch(`${bridge.url}/readyz`)).status).toBe(503), { timeout: 8000 });
    const attempts = connector.connections;
    await new Promise((r) => setTimeout(r, 1500));
    expect(connector.connections).toBe(attempts);
    expect(bridge.logs.some((l) => l.message === "connector stream stopped for good")).toBe(true);
  }, 30_000);
});

/** Intercom note HTML back to text (the inverse of intercomNoteHtml for what we post). */
function decode(html: string): string {
  return html
    .replace(/^<p>|<\/p>$/g, "")
    .split("<br>")
    .join("\n")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}
