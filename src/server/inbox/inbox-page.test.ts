import { request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AutoplayChatbotManager } from "../../manager/autoplay-chatbot-manager.js";
import { createBridgeApp, type BridgeAppOptions } from "../app.js";
import { createBridgeMetrics } from "../bridge-metrics.js";
import { InboxWriter } from "../inbox-writer.js";
import { createJsonLogger } from "../logger.js";
import { MemoryReplayGuard } from "../replay-guard.js";
import { createBridgeServer } from "../server.js";
import type { FeedFrame } from "./feed.js";
import { createInboxPage, type InboxPage } from "./index.js";
import { INBOX_PAGE_JS } from "./page.js";

const T0 = Math.floor(Date.now() / 1000);
let server: Server | undefined;
let manager: AutoplayChatbotManager;
let page: InboxPage | undefined;
let base: string;
let chats = 0;

async function start(overrides: Partial<BridgeAppOptions> = {}, withPage = true): Promise<void> {
  chats = 0;
  const writer = new InboxWriter({ productId: "p", postLinkDebounceMs: 20 });
  manager = new AutoplayChatbotManager({ writer });
  page = withPage ? createInboxPage(writer, manager, { conversationId: () => `chat-${++chats}` }) : undefined;
  const app = createBridgeApp({
    manager,
    logger: createJsonLogger({ level: "error", write: () => undefined }),
    metrics: createBridgeMetrics(writer),
    replay: new MemoryReplayGuard(),
    ready: async () => true,
    inbox: () => writer.snapshot(),
    inboxPage: page?.routes,
    maxBodyBytes: 64 * 1024,
    webhooks: ["intercom"],
    allowUnsigned: true,
    loopback: true,
    intercom: { sessionAttribute: "session_id" },
    ...overrides,
  });
  server = createBridgeServer(app);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  page?.close();
  await manager.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

function call(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

const openChat = (sessionId: string, headers: Record<string, string> = {}) =>
  call("/inbox/open-chat", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ session_id: sessionId }) });

const postActions = (sessionId: string, descriptions: string[], first = 0) =>
  fetch(`${base}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "actions", product_id: "p", session_id: sessionId, actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: T0 + first + i })) }),
  }).then((r) => r.status);

/** Reads the feed's frames until `until` holds for the frames so far; checks the wire format of each. */
function readFeed(until: (frames: FeedFrame[]) => boolean, headers: Record<string, string> = {}): Promise<FeedFrame[]> {
  return new Promise((resolve, reject) => {
    const frames: FeedFrame[] = [];
    const req = request(`${base}/inbox/feed`, { headers }, (res) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const lines = buffer.slice(0, end).split("\n");
          buffer = buffer.slice(end + 2);
          if (lines[0]?.startsWith("retry:") || lines[0]?.startsWith(":")) continue;
          expect(lines).toHaveLength(2);
          expect(lines[0]).toMatch(/^event: [a-z-]+$/);
          expect(lines[1]).toMatch(/^data: \{/);
          frames.push({ event: lines[0]?.slice(7), data: JSON.parse(lines[1]?.slice(6) ?? "") as unknown } as FeedFrame);
        }
        if (until(frames)) {
          req.destroy();
          resolve(frames);
        }
      });
    });
    req.on("error", (error) => (frames.length > 0 ? undefined : reject(error)));
    req.end();
  });
}

describe("the live inbox page's routes", () => {
  it("serves the page with a strict CSP, only to a loopback Host on a loopback bridge", async () => {
    await start();
    const ok = await call("/", { headers: { host: "localhost:8787" } });
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(ok.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(ok.body).toContain('<script src="/inbox/app.js" defer></script>');
    expect((await call("/inbox/app.js")).headers["content-type"]).toBe("text/javascript; charset=utf-8");
    for (const path of ["/", "/inbox/feed", "/inbox/app.js"]) {
      const refused = await call(path, { headers: { host: "evil.example:8787" } });
      expect(refused.status, path).toBe(403);
      expect(errorCode(refused.body)).toBe("forbidden_host");
    }
    expect((await openChat("s-1", { host: "evil.example" })).status).toBe(403);
    expect((await call("/", { method: "POST" })).status).toBe(405);
  });

  it("beyond loopback: off without ADMIN_TOKEN; with it, the feed and Open chat need the bearer (the page does not)", async () => {
    await start({ loopback: false });
    expect((await call("/")).status).toBe(401);
    expect((await call("/inbox/feed")).status).toBe(401);
    expect((await openChat("s-1")).status).toBe(401);
    page?.close();
    await manager.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));

    await start({ loopback: false, adminToken: "admin-token" });
    expect((await call("/")).status).toBe(200);
    expect((await call("/inbox/feed")).status).toBe(401);
    expect((await call("/inbox/feed", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await openChat("s-1")).status).toBe(401);
    const frames = await readFeed((f) => f.length >= 1, { authorization: "Bearer admin-token" });
    expect(frames[0]?.event).toBe("snapshot");
    expect(await postActions("s-1", ["Opened Billing"])).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await openChat("s-1", { authorization: "Bearer admin-token" })).status).toBe(200);
  });

  it("is not mounted outside inbox mode", async () => {
    await start({}, false);
    expect((await call("/")).status).toBe(404);
    expect((await call("/inbox/feed")).status).toBe(404);
    expect((await openChat("s-1")).status).toBe(404);
  });

  it("Open chat links the session through the manager: the feed shows the session linked, the flush note, then a debounced note", async () => {
    await start();
    expect(await postActions("s-1", ["Opened Billing", "Clicked Upgrade"])).toBe(202);
    const feed = readFeed((f) => f.filter((x) => x.event === "note").length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const opened = await openChat("s-1");
    expect(opened.status).toBe(200);
    expect(JSON.parse(opened.body)).toEqual({ status: "linked", session_id: "s-1", conversation_id: "chat-1" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await postActions("s-1", ["Clicked Retry payment"], 2)).toBe(202);
    const frames = await feed;

    const snapshot = frames[0];
    expect(snapshot?.event).toBe("snapshot");
    if (snapshot?.event !== "snapshot") return;
    expect(snapshot.data.sessions).toEqual([{ session_id: "s-1", state: "thinking", linked: false, conversation_id: null, buffered_actions: 2, last_activity_at: expect.any(String) as unknown }]);
    const linked = frames.find((f) => f.event === "session" && f.data.linked);
    expect(linked?.data).toMatchObject({ session_id: "s-1", linked: true, conversation_id: "chat-1" });
    const notes = frames.flatMap((f) => (f.event === "note" ? [f.data] : []));
    expect(notes.map((n) => [n.conversation_id, n.note.kind])).toEqual([["chat-1", "flush"], ["chat-1", "debounced"]]);
    expect(notes[0]?.note.body).toMatch(/^session_id: s-1\ntimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\n\[1\] Opened Billing\n\n?\[2\] Clicked Upgrade$/); // an empty line where the two cross a time bin
    expect(notes[1]?.note.body).toMatch(/\n\n\[1\] Clicked Retry payment$/);
    expect((await manager.getState("s-1"))?.conversationId).toBe("chat-1");
    // A new feed's snapshot holds the conversation, kinds included.
    const again = await readFeed((f) => f.length >= 1);
    expect(again[0]?.event === "snapshot" && again[0].data.conversations).toEqual([
      { conversation_id: "chat-1", session_id: "s-1", notes: [expect.objectContaining({ id: "note-1", kind: "flush" }), expect.objectContaining({ id: "note-2", kind: "debounced" })] },
    ]);
  });

  it("Open chat refuses a linked or unknown session, a foreign Origin, and a body that is not JSON", async () => {
    await start();
    expect(await postActions("s-1", ["Opened Billing"])).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await openChat("s-1", { origin: "https://evil.example" })).status).toBe(403);
    expect((await openChat("nobody")).status).toBe(404);
    expect((await call("/inbox/open-chat", { method: "POST", headers: { "content-type": "text/plain" }, body: "session_id=s-1" })).status).toBe(415);
    expect((await call("/inbox/open-chat", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(400);
    expect((await openChat("s-1", { origin: base })).status).toBe(200);
    const again = await openChat("s-1");
    expect(again.status).toBe(409);
    expect(errorCode(again.body)).toBe("already_linked");
  });

  it("the page's script never writes markup (textContent and properties only)", () => {
    expect(INBOX_PAGE_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    expect(INBOX_PAGE_JS).toContain("textContent");
  });
});
