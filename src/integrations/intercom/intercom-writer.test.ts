import { describe, expect, it } from "vitest";
import { startFakeIntercom, type FakeIntercom, type FakeIntercomOptions } from "../../../test/support/fake-platforms.js";
import { ConversationGoneError, PayloadError, PermanentDeliveryError } from "../../errors.js";
import type { PostContext } from "../../writer/base-chatbot-writer.js";
import { actionLines, actions, fastWriter, PATH_ESCAPING_IDS, useCleanup, waitFor } from "../test-support/harness.js";
import { IntercomWriter, intercomNoteHtml, supportsSkipUnsnooze, type IntercomWriterOptions } from "./intercom-writer.js";

/** Exposes the protected calls, as the engine and the manager make them. */
class ProbeWriter extends IntercomWriter {
  redact(conversationId: string, partId: string): Promise<void> {
    return this.redactPart(conversationId, partId);
  }

  post(conversationId: string, body: string): Promise<string | null> {
    const context: PostContext = { signal: new AbortController().signal, sessionId: "s", attempt: 1, idempotencyKey: "key-1" };
    return this.postNote(conversationId, body, context);
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
    await writer.writeActions("conv 1+x", "s-1", actions(`Clicked <img src=x onerror="alert(1)"> & 'Buy'`, "Opened Billing"));
    await writer.flush();
    await writer.onIdle();

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/conversations/conv%201%2Bx/reply");
    expect(request?.headers).toMatchObject({
      authorization: "Bearer intercom-test-token",
      "intercom-version": "2.16",
      "content-type": "application/json",
      accept: "application/json",
    });
    const body = request?.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["admin_id", "body", "message_type", "type"]);
    expect(body).toMatchObject({ message_type: "note", type: "admin", admin_id: "admin-7" });
    expect(body.body).toMatch(
      /^<p>session_id: s-1<br>timestamp: [\d-]+ [\d:]+ UTC<br><br>\[1\] Clicked &lt;img src=x onerror=&quot;alert\(1\)&quot;&gt; &amp; &#39;Buy&#39;<br>\[2\] Opened Billing<\/p>$/,
    );
    expect(fake.notesIn("conv 1+x")).toHaveLength(1);
  });

  it.each(PATH_ESCAPING_IDS)("refuses the conversation id %j without any request: a permanent error (#8)", async (id) => {
    const writer = await setup();
    // The writer refuses it where it enters; the platform calls refuse it again (ids may come from a store).
    await expect(writer.writeActions(id, "s", actions("a"))).rejects.toBeInstanceOf(PayloadError);
    await expect(writer.post(id, "x")).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(writer.post(id, "x")).rejects.toThrow(/^Intercom: invalid conversation id: /);
    await expect(writer.redact(id, "1")).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(fake.requests).toEqual([]);
  });

  it("the stand-in answers like the real API: only the new part, its HTML reformatted", async () => {
    const writer = await setup();
    fake.addPart("c", { part_type: "comment", body: "<p>Hi</p>", author: { type: "user", id: "u-1" } });
    const partId = await writer.post("c", "line 1\nline 2");
    const answer = await (await fetch(`${fake.url}/conversations/c/reply`, {
      method: "POST",
      headers: { authorization: "Bearer intercom-test-token", "intercom-version": "2.16", "content-type": "application/json" },
      body: JSON.stringify({ message_type: "note", type: "admin", admin_id: "admin-7", body: "<p>x</p>" }),
    })).json() as { conversation_parts: { conversation_parts: Array<{ id: string; body: string }>; total_count: number } };
    expect(answer.conversation_parts.total_count).toBe(1);
    expect(answer.conversation_parts.conversation_parts.map((p) => p.body)).toEqual(['<p class="no-margin">x</p>']);
    expect(partId).toBe(fake.notesIn("c")[0]?.id);
    expect(fake.notesIn("c")[0]?.stored).not.toBe(fake.notesIn("c")[0]?.body);
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

  it("keeps the id of a note by a bot admin (author type bot)", async () => {
    const writer = await setup();
    fake.faults.push({ status: 200, body: { conversation_parts: { conversation_parts: [{ id: "91", part_type: "note", author: { type: "bot", id: "admin-7" } }], total_count: 1 } } });
    expect(await writer.post("c", "x")).toBe("91");
  });

  it("records no part id when the answer holds no note by our admin (never a customer's part, #9)", async () => {
    const writer = await setup();
    const list = (...parts: unknown[]) => ({ status: 200, body: { type: "conversation", conversation_parts: { conversation_parts: parts, total_count: parts.length } } });
    fake.faults.push(
      list({ id: "77", part_type: "comment", body: "<p>my card is 4242</p>", author: { type: "user", id: "u-1" } }),
      list({ id: "78", part_type: "note", body: "<p>other</p>", author: { type: "admin", id: "admin-9" } }),
      list({ id: "79", part_type: "comment", body: "<p>x</p>", author: { type: "admin", id: "admin-7" } }),
      list({ id: "80", part_type: "note", body: "<p>x</p>", author: { type: "user", id: "u-1" } }),
      { status: 200, body: { type: "conversation" } },
      { status: 200 },
    );
    for (const d of ["a", "b", "c", "d", "e", "f"]) {
      await writer.writeActions("c", "s", actions(d));
      await writer.flush();
    }
    await writer.onIdle();
    expect(await writer.getPartIds("s")).toEqual([]);
    expect(writer.stats()).toMatchObject({ notesPosted: 6, retries: 0 });
  });

  it("redacts a note, and counts an already-redacted or vanished one as done", async () => {
    const writer = await setup();
    await writer.writeActions("c", "s", actions("a"));
    await writer.flush();
    const [partId] = await writer.getPartIds("s");
    await writer.redact("c", partId!);
    await writer.redact("c", partId!);
    await writer.redact("c", "999");
    const redactions = fake.requests.filter((r) => r.path === "/conversations/redact");
    const body = (id: string) => ({ type: "conversation_part", conversation_id: "c", conversation_part_id: id });
    expect(redactions.map((r) => [r.status, r.body])).toEqual([[200, body(partId!)], [400, body(partId!)], [404, body("999")]]);
    expect(fake.notesIn("c")[0]?.redacted).toBe(true);
  });

  it("wakes a snoozed conversation on stable versions, and sends skip_unsnooze on Preview only (#9)", async () => {
    const stable = await setup();
    fake.snooze("c");
    await stable.post("c", "note");
    expect(fake.stateOf("c")).toBe("open");
    expect(fake.requests[0]?.body).not.toHaveProperty("skip_unsnooze");

    const preview = await setup({ version: "Preview" });
    fake.snooze("c");
    await preview.post("c", "note");
    expect(fake.requests[0]?.headers["intercom-version"]).toBe("Preview");
    expect(fake.requests[0]?.body).toMatchObject({ message_type: "note", skip_unsnooze: true });
    expect(fake.stateOf("c")).toBe("snoozed");
    expect([..."2.14 2.15 2.16".split(" ").map(supportsSkipUnsnooze), supportsSkipUnsnooze("Unstable")]).toEqual([false, false, false, true]);
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

  it("retries 5xx, a reset connection and a hung request (settled by requestTimeoutMs), then delivers once", async () => {
    const writer = await setup({ postTimeoutMs: 100, requestTimeoutMs: 300 });
    fake.faults.push({ status: 503 }, { reset: true }, { hang: true }, { status: 500 });
    const started = Date.now();
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(replies()).toHaveLength(5);
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(writer.stats()).toMatchObject({ retries: 4, notesPosted: 1, deadLettered: 0 });
  });

  it("is at-least-once: Intercom has no idempotency key, so a note whose answer was lost lands twice (documented)", async () => {
    const writer = await setup();
    fake.faults.push({ acceptThenReset: true });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(replies()).toHaveLength(2);
    expect(replies()[1]?.body).toEqual(replies()[0]?.body);
    expect(fake.notesIn("c")).toHaveLength(2);
  });

  it("awaits a call answered after postTimeoutMs: one request, one note, its part id kept (#7 h)", async () => {
    const writer = await setup({ postTimeoutMs: 100, requestTimeoutMs: 5_000 });
    fake.faults.push({ delayMs: 600 });
    await writer.writeActions("c", "s", actions("a"));
    await writer.onIdle();
    expect(replies().map((r) => r.status)).toEqual([200]);
    expect(fake.notesIn("c")).toHaveLength(1);
    expect(await writer.getPartIds("s")).toEqual([fake.notesIn("c")[0]?.id]);
    expect(writer.stats()).toMatchObject({ retries: 0, notesPosted: 1, postFailures: 0 });
  });

  it("a conversation gone (404, 410) is a ConversationGoneError, dead-lettered as conversation_gone at once", async () => {
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
      ["closed", "conversation_gone", 1, 1],
      ["gone", "conversation_gone", 1, 1],
    ]);
    await expect(writer.post("gone", "x")).rejects.toBeInstanceOf(ConversationGoneError);
  });

  it("a wrong adminId (404 admin_not_found) is a permanent error, not a conversation gone", async () => {
    const writer = await setup({ adminId: "nobody" });
    const failure = writer.post("c", "x");
    await expect(failure).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(failure).rejects.not.toBeInstanceOf(ConversationGoneError);
    await expect(failure).rejects.toThrow(/admin_not_found/);
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
    expect(() => new IntercomWriter({ ...base, requestTimeoutMs: 0 })).toThrow(/`requestTimeoutMs`/);
  });
});
