import { describe, expect, it } from "vitest";
import { startFakeIntercom, type FakeIntercom, type FakeIntercomOptions } from "../../../test/support/fake-platforms.js";
import { actionLines, actions, fastWriter, useCleanup, waitFor } from "../test-support/harness.js";
import { IntercomWriter, intercomNoteHtml, type IntercomWriterOptions } from "./intercom-writer.js";

/** Exposes the protected redaction, as the manager would call it. */
class ProbeWriter extends IntercomWriter {
  redact(conversationId: string, partId: string): Promise<void> {
    return this.redactPart(conversationId, partId);
  }
}

const cleanup = useCleanup();
let fake: FakeIntercom;

async function setup(writerOptions: Partial<IntercomWriterOptions> = {}, fakeOptions: FakeIntercomOptions = {}): Promise<ProbeWriter> {
  fake = cleanup(await startFakeIntercom({ adminId: "admin-7", ...fakeOptions }));
  return cleanup(new ProbeWriter({ ...fastWriter, token: "intercom-test-token", adminId: "admin-7", apiBase: fake.url, ...writerOptions }));
}

/** The action lines of an Intercom note's HTML body, unescaped. */
function htmlActionLines(html: string): string[] {
  const text = html.replace(/^<p>|<\/p>$/g, "").split("<br>").join("\n");
  const entities: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&amp;": "&" };
  return actionLines(text.replace(/&(lt|gt|quot|#39|amp);/g, (e) => entities[e] ?? e));
}

const replies = () => fake.requests.filter((r) => r.path.endsWith("/reply"));

describe("intercomNoteHtml", () => {
  it("escapes user text and keeps every line break, blank lines included", () => {
    expect(intercomNoteHtml(`a <b> & "c" 'd'\r\n\nnext\rlast`)).toBe("<p>a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;<br><br>next<br>last</p>");
    expect(intercomNoteHtml("")).toBe("<p></p>");
  });
});

describe("IntercomWriter", () => {
  it("posts an admin note with the documented request shape and escaped HTML", async () => {
    const writer = await setup();
    await writer.writeActions("conv/1 x", "s-1", actions(`Clicked <img src=x onerror="alert(1)"> & 'Buy'`, "Opened Billing"));
    await writer.flush();
    await writer.onIdle();

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/conversations/conv%2F1%20x/reply");
    expect(request?.headers).toMatchObject({
      authorization: "Bearer intercom-test-token",
      "intercom-version": "2.14",
      "content-type": "application/json",
      accept: "application/json",
    });
    const body = request?.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["admin_id", "body", "message_type", "type"]);
    expect(body).toMatchObject({ message_type: "note", type: "admin", admin_id: "admin-7" });
    expect(body.body).toMatch(
      /^<p>session_id: s-1<br>timestamp: [\d-]+ [\d:]+ UTC<br><br>\[1\] Clicked &lt;img src=x onerror=&quot;alert\(1\)&quot;&gt; &amp; &#39;Buy&#39;<br>\[2\] Opened Billing<\/p>$/,
    );
    expect(fake.notesIn("conv/1 x")).toHaveLength(1);
  });

  it("keeps the id of its own new note, not another admin's or an auto-reply", async () => {
    const writer = await setup({}, { autoReply: { part_type: "comment", body: "<p>Thanks!</p>", author: { type: "bot", id: "bot-1" } } });
    fake.addPart("c", { part_type: "note", body: "<p>other</p>", author: { type: "admin", id: "admin-9" } });
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    await writer.writeActions("c", "s", actions("b"));
    await writer.flush();
    await writer.onIdle();
    expect(await writer.getPartIds("s")).toEqual(fake.notesIn("c").map((n) => n.id));
    expect(fake.notesIn("c")).toHaveLength(2);
  });

  it("falls back to the newest part, or null when the answer lists none", async () => {
    const writer = await setup();
    fake.faults.push(
      { status: 200, body: { conversation_parts: { conversation_parts: [{ id: 1 }, { id: 77, part_type: "comment", author: { id: "u" } }] } } },
      { status: 200, body: { type: "conversation" } },
    );
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    await writer.writeActions("c", "s", actions("b"));
    await writer.flush();
    await writer.onIdle();
    expect(await writer.getPartIds("s")).toEqual(["77"]);
    expect(writer.stats().notesPosted).toBe(2);
  });

  it("redacts a note, and counts an already-redacted one as done", async () => {
    const writer = await setup();
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    const [partId] = await writer.getPartIds("s");
    await writer.redact("c", partId!);
    await writer.redact("c", partId!);
    const redactions = fake.requests.filter((r) => r.path === "/conversations/redact");
    expect(redactions.map((r) => [r.status, r.body])).toEqual([
      [200, { type: "conversation_part", conversation_id: "c", conversation_part_id: partId }],
      [400, { type: "conversation_part", conversation_id: "c", conversation_part_id: partId }],
    ]);
    expect(fake.notesIn("c")[0]?.redacted).toBe(true);
  });

  it("waits for X-RateLimit-Reset on a 429, keeps coalescing, and posts once after it", async () => {
    const writer = await setup();
    const reset = Math.ceil(Date.now() / 1000) + 1; // 1–2 s ahead
    fake.faults.push({ status: 429, headers: { "X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(reset) } });
    await writer.writeActions("c", "s", actions("a"));
    await waitFor(() => fake.requests.length === 1);
    for (const description of ["b", "c", "d"]) {
      await writer.writeActions("c", "s", actions(description));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await writer.onIdle();

    expect(replies().map((r) => r.status)).toEqual([429, 200]);
    expect(replies()[1]!.at).toBeGreaterThanOrEqual(reset * 1000 - 30);
    expect(fake.notesIn("c").flatMap((n) => htmlActionLines(n.body))).toEqual(["a", "b", "c", "d"]);
    expect((await writer.deadLetters())).toEqual([]);
  });

  it("retries 5xx, a reset connection and a hung request, then delivers once", async () => {
    const writer = await setup({ postTimeoutMs: 300 });
    fake.faults.push({ status: 503 }, { reset: true }, { hang: true }, { status: 500 });
    const started = Date.now();
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(replies()).toHaveLength(5);
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(writer.stats()).toMatchObject({ retries: 4, notesPosted: 1, deadLettered: 0 });
  });

  it("dead-letters at once when the conversation is gone (404, 410)", async () => {
    const writer = await setup();
    fake.faults.push({ status: 410, body: { type: "error.list", errors: [{ code: "gone" }] } });
    await writer.writeActions("closed", "s1", actions("x"));
    await writer.onIdle();
    fake.deleteConversation("gone");
    await writer.writeActions("gone", "s2", actions("y"));
    await writer.onIdle();
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.map((r) => r.status)).toEqual([410, 404]);
    expect((await writer.deadLetters()).map((l) => [l.conversationId, l.reason, l.attempts, l.actions.length])).toEqual([
      ["closed", "permanent_error", 1, 1],
      ["gone", "permanent_error", 1, 1],
    ]);
  });

  it("dead-letters a refused token without retrying or repeating the token", async () => {
    const writer = await setup({ token: "wrong-secret-token" });
    await writer.writeActions("c", "s", actions("x"));
    await writer.onIdle();
    expect(fake.requests.map((r) => r.status)).toEqual([401]);
    const [letter] = (await writer.deadLetters());
    expect(letter?.error).toMatch(/^Intercom answered 401: .*Access Token Invalid/);
    expect(letter?.error).not.toContain("wrong-secret-token");
  });

  it("rejects missing options with a TypeError naming them", () => {
    const base = { productId: "p", token: "t", adminId: "a" };
    expect(() => new IntercomWriter({ ...base, token: "" })).toThrow(/`token`/);
    expect(() => new IntercomWriter({ ...base, adminId: undefined as unknown as string })).toThrow(/`adminId`/);
    expect(() => new IntercomWriter({ ...base, apiBase: "ftp://x" })).toThrow(/`apiBase`/);
    expect(() => new IntercomWriter({ ...base, version: " " })).toThrow(/`version`/);
  });
});
