import { describe, expect, it } from "vitest";
import { startFakeHttpBridge, type FakeHttpBridgeOptions, type FakePlatform } from "../../../test/support/fake-platforms.js";
import { ConversationGoneError, PayloadError, PermanentDeliveryError, RetryableDeliveryError } from "../../errors.js";
import type { PostContext } from "../../writer/base-chatbot-writer.js";
import { actionLines, actions, fastWriter, PATH_ESCAPING_IDS, useCleanup } from "../test-support/harness.js";
import { HttpBridgeWriter, type HttpBridgeWriterOptions } from "./http-bridge-writer.js";

/** Exposes the protected calls, as the engine and the manager make them. */
class ProbeWriter extends HttpBridgeWriter {
  redact(conversationId: string, partId: string): Promise<void> {
    return this.redactPart(conversationId, partId);
  }

  post(conversationId: string, body: string, idempotencyKey = "key-1", attempt = 1): Promise<string | null> {
    const context: PostContext = { signal: new AbortController().signal, sessionId: "s", attempt, idempotencyKey };
    return this.postNote(conversationId, body, context);
  }
}

const cleanup = useCleanup();
let fake: FakePlatform;

async function setup(writerOptions: Partial<HttpBridgeWriterOptions> = {}, fakeOptions: FakeHttpBridgeOptions = {}): Promise<ProbeWriter> {
  fake = cleanup(await startFakeHttpBridge(fakeOptions));
  return cleanup(new ProbeWriter({ ...fastWriter, endpoint: fake.url, ...writerOptions }));
}

describe("HttpBridgeWriter", () => {
  it("posts {body} with the bearer token and keeps the answered id", async () => {
    const writer = await setup({ token: "bridge-token" }, { token: "bridge-token" });
    await writer.writeActions("c 1+x", "s", actions("Opened <Billing> & more"));
    await writer.flush();
    await writer.onIdle();
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: "POST", path: "/conversations/c%201%2Bx/note", status: 201 });
    expect(request?.headers).toMatchObject({ authorization: "Bearer bridge-token", "content-type": "application/json" });
    expect(request?.headers["idempotency-key"]).toMatch(/\S/);
    expect(Object.keys(request?.body as object)).toEqual(["body"]);
    expect(actionLines((request?.body as { body: string }).body)).toEqual(["Opened <Billing> & more"]);
    expect(await writer.getPartIds("s")).toEqual(["n-1"]);
  });

  it("sends no Authorization without a token, and records no part id when the bridge gives none", async () => {
    const writer = await setup({}, { omitIds: true });
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    await writer.onIdle();
    expect(fake.requests[0]?.headers.authorization).toBeUndefined();
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(await writer.getPartIds("s")).toEqual([]);
  });

  it.each(PATH_ESCAPING_IDS)("refuses the conversation id %j without any request: a permanent error (#8)", async (id) => {
    const writer = await setup();
    // The writer refuses it where it enters; the platform calls refuse it again (ids may come from a store).
    await expect(writer.writeActions(id, "s", actions("a"))).rejects.toBeInstanceOf(PayloadError);
    await expect(writer.post(id, "x")).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(writer.post(id, "x")).rejects.toThrow(/^HTTP bridge: invalid conversation id: /);
    await expect(writer.redact(id, "n-1")).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(fake.requests).toEqual([]);
  });

  it.each([".", ".."])("refuses to redact the part id %j, and encodes any other", async (partId) => {
    const writer = await setup();
    await expect(writer.redact("c", partId)).rejects.toBeInstanceOf(PermanentDeliveryError);
    await writer.redact("c", "a/..");
    expect(fake.requests.map((r) => r.path)).toEqual(["/conversations/c/note/a%2F.."]);
  });

  it("forwards PostContext.idempotencyKey; the stand-in answers a repeated key once, with one note (#7 h)", async () => {
    const writer = await setup();
    // The first answer is lost after the bridge stored the note: the outcome is unknown.
    fake.faults.push({ acceptThenReset: true });
    const lost = writer.post("c", "hello", "note-key-1");
    await expect(lost).rejects.toBeInstanceOf(RetryableDeliveryError);
    await expect(lost).rejects.toMatchObject({ status: undefined });
    expect(await writer.post("c", "hello", "note-key-1", 2)).toBe("n-1");
    expect(await writer.post("c", "hello", "note-key-1", 3)).toBe("n-1");
    expect(fake.notesIn("c").map((n) => n.id)).toEqual(["n-1"]);
    expect(await writer.post("c", "hello", "note-key-2")).toBe("n-2");
    expect(fake.headerValues("Idempotency-Key")).toEqual(["note-key-1", "note-key-1", "note-key-1", "note-key-2"]);
  });

  it("retries a note whose answer was lost with the same key: the bridge keeps one note (#7 h)", async () => {
    const writer = await setup();
    fake.faults.push({ acceptThenReset: true });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(fake.requests).toHaveLength(2);
    const keys = fake.headerValues("Idempotency-Key");
    expect(keys[0]).toMatch(/\S/);
    expect(keys[1]).toBe(keys[0]);
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(await writer.getPartIds("s")).toEqual(["n-1"]);
    expect(writer.stats()).toMatchObject({ notesPosted: 1, deadLettered: 0 });
  });

  it("awaits a call answered after postTimeoutMs instead of retrying it (#7 h)", async () => {
    const writer = await setup({ postTimeoutMs: 100, requestTimeoutMs: 5_000 });
    fake.faults.push({ delayMs: 500 });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(fake.requests.map((r) => r.status)).toEqual([201]);
    expect(await writer.getPartIds("s")).toEqual(["n-1"]);
    expect(writer.stats()).toMatchObject({ retries: 0, notesPosted: 1 });
  });

  it("redacts with DELETE, and counts a missing note as done", async () => {
    const writer = await setup();
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    await writer.redact("c", "n-1");
    await writer.redact("c", "n-1");
    expect(fake.requests.slice(1).map((r) => [r.method, r.path, r.status])).toEqual([
      ["DELETE", "/conversations/c/note/n-1", 204],
      ["DELETE", "/conversations/c/note/n-1", 404],
    ]);
    expect(fake.notesIn("c")[0]?.redacted).toBe(true);
  });

  it("retries 5xx, a reset and a hang (settled by requestTimeoutMs), then delivers once", async () => {
    const writer = await setup({ postTimeoutMs: 100, requestTimeoutMs: 200 });
    fake.faults.push({ status: 500 }, { reset: true }, { hang: true });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(fake.requests).toHaveLength(4);
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(writer.stats()).toMatchObject({ retries: 3, deadLettered: 0 });
  });

  it("dead-letters a gone conversation and a refused token without retrying", async () => {
    const writer = await setup({ token: "wrong" }, { token: "right" });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    fake.faults.push({ status: 410 });
    await writer.writeActions("d", "s2", actions("b"));
    await writer.onIdle();
    expect(fake.requests.map((r) => r.status)).toEqual([401, 410]);
    expect((await writer.deadLetters()).map((l) => [l.conversationId, l.reason, l.attempts])).toEqual([
      ["c", "permanent_error", 1],
      ["d", "conversation_gone", 1],
    ]);
    fake.faults.push({ status: 404 });
    await expect(writer.post("e", "x")).rejects.toBeInstanceOf(ConversationGoneError);
  });

  it("rejects bad options with a TypeError naming them", () => {
    expect(() => new HttpBridgeWriter({ productId: "p", endpoint: "nowhere" })).toThrow(/`endpoint`/);
    expect(() => new HttpBridgeWriter({ productId: "p", endpoint: "http://x", token: "" })).toThrow(/`token`/);
    expect(() => new HttpBridgeWriter({ productId: "p", endpoint: "http://x", requestTimeoutMs: -5 })).toThrow(/`requestTimeoutMs`/);
  });
});
