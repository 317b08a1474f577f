import { describe, expect, it } from "vitest";
import { startFakeHttpBridge, type FakeHttpBridgeOptions, type FakePlatform } from "../../../test/support/fake-platforms.js";
import { actionLines, actions, fastWriter, useCleanup } from "../test-support/harness.js";
import { HttpBridgeWriter, type HttpBridgeWriterOptions } from "./http-bridge-writer.js";

/** Exposes the protected redaction, as the manager would call it. */
class ProbeWriter extends HttpBridgeWriter {
  redact(conversationId: string, partId: string): Promise<void> {
    return this.redactPart(conversationId, partId);
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
    await writer.writeActions("c/1", "s", actions("Opened <Billing> & more"));
    await writer.flush();
    await writer.onIdle();
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: "POST", path: "/conversations/c%2F1/note", status: 201 });
    expect(request?.headers).toMatchObject({ authorization: "Bearer bridge-token", "content-type": "application/json" });
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

  it("retries 5xx, a reset and a hang, then delivers once", async () => {
    const writer = await setup({ postTimeoutMs: 200 });
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
      ["d", "permanent_error", 1],
    ]);
  });

  it("rejects bad options with a TypeError naming them", () => {
    expect(() => new HttpBridgeWriter({ productId: "p", endpoint: "nowhere" })).toThrow(/`endpoint`/);
    expect(() => new HttpBridgeWriter({ productId: "p", endpoint: "http://x", token: "" })).toThrow(/`token`/);
  });
});
