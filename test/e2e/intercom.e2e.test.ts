/**
 * End to end: the real CLI as a child process, a local server speaking Intercom's shapes, and
 * signed requests. Covers PLATFORMS.md faults 1, 2, 5, 6, 9, 11 and 12 at this level.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { intercomNoteHtml } from "../../src/integrations/index.js";
import { formatNote } from "../../src/note/format.js";
import { sign } from "../../src/server/signatures.js";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.js";
import { startFakeIntercom, type FakeIntercom } from "../support/fake-platforms.js";

const CONNECTOR_SECRET = "connector-secret-e2e";
const CLIENT_SECRET = "intercom-client-secret-e2e";
const TOKEN = "intercom-token-e2e";
const ADMIN = "991";

let fake: FakeIntercom;
let bridge: BridgeProcess;

async function start(env: Record<string, string> = {}): Promise<void> {
  fake = await startFakeIntercom({ token: TOKEN, adminId: ADMIN });
  bridge = await startBridgeProcess({
    DESTINATION: "intercom",
    INTERCOM_TOKEN: TOKEN,
    INTERCOM_ADMIN_ID: ADMIN,
    INTERCOM_API_BASE: fake.url,
    INTERCOM_CLIENT_SECRET: CLIENT_SECRET,
    CONNECTOR_SECRET,
    POST_LINK_DEBOUNCE_MS: "100",
    POST_TIMEOUT_MS: "1000",
    ...env,
  });
}

afterEach(async () => {
  await bridge?.stop("SIGKILL");
  await fake?.close();
});

interface Act {
  index: number;
  description: string;
  timestamp_start: number;
}

function sendActions(sessionId: string, actions: Act[], secret = CONNECTOR_SECRET): Promise<Response> {
  const body = JSON.stringify({ type: "actions", product_id: "e2e", session_id: sessionId, actions: actions.map((a) => ({ type: "click", title: "", ...a })) });
  return fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json", "x-connector-signature": sign.connector(body, secret) } });
}

function webhook(topic: string, conversationId: string, sessionId: string, id = `notif_${conversationId}_${topic}`): Promise<Response> {
  const body = JSON.stringify({
    type: "notification_event",
    id,
    topic,
    data: { item: { type: "conversation", id: conversationId, custom_attributes: { session_id: sessionId } } },
  });
  return fetch(`${bridge.url}/webhooks/intercom`, { method: "POST", body, headers: { "content-type": "application/json", "x-hub-signature": sign.intercom(body, CLIENT_SECRET) } });
}

const now = () => Date.now() / 1000;

describe("bridge → Intercom", () => {
  it("posts the flush note with the exact body at the link, then one note per burst", async () => {
    await start();
    const pre: Act[] = [
      { index: 0, description: "Opened Billing", timestamp_start: 1718000000 },
      { index: 1, description: "Clicked <Upgrade> & saved", timestamp_start: 1718000000.5 },
      { index: 2, description: "Submitted card form", timestamp_start: 1718000007 },
    ];
    // Old timestamps would be outside the pre-link window: send them just before linking, with now-ish times kept exact.
    const t = Math.floor(now());
    const fresh = pre.map((a) => ({ ...a, timestamp_start: a.timestamp_start - 1718000000 + t - 10 }));
    expect((await sendActions("ph-1", fresh.slice(0, 2))).status).toBe(202);
    expect((await sendActions("ph-1", fresh.slice(2))).status).toBe(202);
    expect((await webhook("conversation.user.created", "conv-1", "ph-1")).status).toBe(200);
    await vi.waitFor(() => expect(fake.notesIn("conv-1")).toHaveLength(1), { timeout: 5000 });
    expect(fake.notesIn("conv-1")[0]?.body).toBe(intercomNoteHtml(formatNote("ph-1", fresh, 3)));
    expect(fake.notesIn("conv-1")[0]?.body).toContain("Clicked &lt;Upgrade&gt; &amp; saved");

    const burst = [3, 4, 5].map((index) => ({ index, description: `burst ${index}`, timestamp_start: now() }));
    for (const a of burst) await sendActions("ph-1", [a]);
    await vi.waitFor(() => expect(fake.notesIn("conv-1")).toHaveLength(2), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.notesIn("conv-1")).toHaveLength(2);
    expect(fake.notesIn("conv-1")[1]?.body).toBe(intercomNoteHtml(formatNote("ph-1", burst, 0)));
  });

  it("waits out a 429 until X-RateLimit-Reset, keeps coalescing, and loses nothing (fault 1)", async () => {
    await start();
    await webhook("conversation.user.created", "conv-429", "ph-429");
    const reset = Math.ceil(now()) + 2;
    fake.faults.push({ status: 429, headers: { "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(reset) } });
    await sendActions("ph-429", [{ index: 0, description: "first", timestamp_start: now() }]);
    await new Promise((r) => setTimeout(r, 500));
    await sendActions("ph-429", [{ index: 1, description: "during the limit", timestamp_start: now() }]);
    await vi.waitFor(() => expect(fake.notesIn("conv-429")).toHaveLength(1), { timeout: 8000 });
    const note = fake.notesIn("conv-429")[0]!;
    expect(note.at).toBeGreaterThanOrEqual(reset * 1000 - 50);
    expect(note.body).toContain("first");
    expect(note.body).toContain("during the limit");
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_platform_429_total 1/);
  });

  it("retries 5xx, a reset connection and a hung request, then delivers once (fault 2)", async () => {
    await start({ PLATFORM_REQUEST_TIMEOUT_MS: "2000" });
    await webhook("conversation.user.created", "conv-5xx", "ph-5xx");
    fake.faults.push({ status: 503 }, { reset: true }, { hang: true });
    await sendActions("ph-5xx", [{ index: 0, description: "survives", timestamp_start: now() }]);
    await vi.waitFor(() => expect(fake.notesIn("conv-5xx")).toHaveLength(1), { timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(fake.notesIn("conv-5xx")).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path === "/conversations/conv-5xx/reply").length).toBeGreaterThanOrEqual(4);
  }, 20_000);

  it("stops posting to a deleted conversation and dead-letters visibly (fault 12)", async () => {
    await start();
    await webhook("conversation.user.created", "conv-gone", "ph-gone");
    fake.deleteConversation("conv-gone");
    await sendActions("ph-gone", [{ index: 0, description: "nowhere to go", timestamp_start: now() }]);
    await vi.waitFor(async () => expect(await (await fetch(`${bridge.url}/metrics`)).text()).toMatch(/bridge_notes_dead_lettered_total 1/), { timeout: 5000 });
    expect(fake.requests.filter((r) => r.path.includes("conv-gone"))).toHaveLength(1);
    expect(bridge.logs.some((l) => l.message === "note dead-lettered" && l.conversationId === "conv-gone")).toBe(true);
  });

  it("processes a repeated payload and a repeated webhook once (fault 6)", async () => {
    await start();
    const a = [{ index: 0, description: "once only", timestamp_start: now() }];
    await sendActions("ph-dup", a);
    expect(await (await sendActions("ph-dup", a)).json()).toEqual({ status: "duplicate" });
    await webhook("conversation.user.created", "conv-dup", "ph-dup", "notif_dup");
    expect(await (await webhook("conversation.user.created", "conv-dup", "ph-dup", "notif_dup")).json()).toEqual({ status: "duplicate" });
    await vi.waitFor(() => expect(fake.notesIn("conv-dup")).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.notesIn("conv-dup")).toHaveLength(1);
    expect(fake.notesIn("conv-dup")[0]?.body.match(/once only/g)).toHaveLength(1);
  });

  it("answers malformed input with a 4xx and invalid signatures with 401, enqueuing nothing (faults 9, 11)", async () => {
    await start({ MAX_BODY_BYTES: "65536" });
    const bad: Array<[string, Record<string, string>, number]> = [
      ["not json", {}, 400],
      ['{"type":"actions","actions":[]}', {}, 400],
      ['{"type":"actions","session_id":{"__proto__":1},"actions":[]}', {}, 400],
      ["[".repeat(70_000), {}, 413],
    ];
    for (const [body, headers, status] of bad) {
      const res = await fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json", "x-connector-signature": sign.connector(body, CONNECTOR_SECRET), ...headers } });
      expect([body.slice(0, 15), res.status]).toEqual([body.slice(0, 15), status]);
    }
    const body = JSON.stringify({ type: "actions", session_id: "ph-sig", actions: [{ index: 0, description: "forged", timestamp_start: now() }] });
    for (const signature of [undefined, sign.connector(body, "wrong"), sign.connector(body, CONNECTOR_SECRET).replace("sha256", "sha512"), "sha256=00"]) {
      const res = await fetch(`${bridge.url}/events`, { method: "POST", body, headers: { "content-type": "application/json", ...(signature ? { "x-connector-signature": signature } : {}) } });
      expect(res.status).toBe(401);
    }
    const forgedHook = await fetch(`${bridge.url}/webhooks/intercom`, { method: "POST", body: "{}", headers: { "content-type": "application/json", "x-hub-signature": "sha1=deadbeef" } });
    expect(forgedHook.status).toBe(401);
    await webhook("conversation.user.created", "conv-sig", "ph-sig");
    await new Promise((r) => setTimeout(r, 500));
    expect(fake.notesIn("conv-sig")).toHaveLength(0);
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
  });

  it("exits 0 on SIGTERM even while a client holds a stalled request open", async () => {
    await start();
    const { connect } = await import("node:net");
    const socket = connect(Number(new URL(bridge.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    expect(await bridge.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    socket.destroy();
  });

  it("delivers an open debounce window on SIGTERM and exits 0 (fault 5)", async () => {
    await start({ POST_LINK_DEBOUNCE_MS: "5000" });
    await webhook("conversation.user.created", "conv-term", "ph-term");
    await sendActions("ph-term", [{ index: 0, description: "pending at shutdown", timestamp_start: now() }]);
    expect(await bridge.stop("SIGTERM")).toBe(0);
    expect(fake.notesIn("conv-term").map((n) => n.body)).toEqual([expect.stringContaining("pending at shutdown")]);
  });
});
