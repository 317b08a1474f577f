import { describe, expect, it } from "vitest";
import { startFakeZendesk, ZENDESK_CLOSED_TICKET_ANSWER, type FakeZendesk, type FakeZendeskOptions } from "../../../test/support/fake-platforms.js";
import { ConversationGoneError, PayloadError, PermanentDeliveryError, RetryableDeliveryError } from "../../errors.js";
import type { PostContext } from "../../writer/base-chatbot-writer.js";
import { actionLines, actions, fastWriter, PATH_ESCAPING_IDS, sleep, useCleanup, waitFor } from "../test-support/harness.js";
import { ZendeskWriter, type ZendeskWriterOptions } from "./zendesk-writer.js";

/** Exposes the protected calls, as the engine and the manager make them. */
class ProbeWriter extends ZendeskWriter {
  redact(ticketId: string, partId: string): Promise<void> {
    return this.redactPart(ticketId, partId);
  }

  post(ticketId: string, body: string): Promise<string | null> {
    const context: PostContext = { signal: new AbortController().signal, sessionId: "s", attempt: 1, idempotencyKey: "key-1" };
    return this.postNote(ticketId, body, context);
  }
}

const cleanup = useCleanup();
let fake: FakeZendesk;

async function setup(writerOptions: Partial<ZendeskWriterOptions> = {}, fakeOptions: FakeZendeskOptions = {}): Promise<ProbeWriter> {
  fake = cleanup(await startFakeZendesk(fakeOptions));
  const credentials = { apiBase: `${fake.url}/`, email: "agent@example.com", apiToken: "zendesk-test-token" };
  return cleanup(new ProbeWriter({ ...fastWriter, ...credentials, minSpacingMs: 0, ...writerOptions }));
}

const updates = () => fake.requests.filter((r) => r.path.startsWith("/api/v2/tickets/"));

describe("ZendeskWriter", () => {
  it("adds a private comment with the documented request shape and keeps its comment id", async () => {
    const writer = await setup();
    await writer.writeActions("123", "s-1", actions("Opened <Billing>", "Clicked Upgrade"));
    await writer.flush();
    await writer.onIdle();

    const [request] = fake.requests;
    expect(request?.method).toBe("PUT");
    expect(request?.path).toBe("/api/v2/tickets/123.json");
    const basic = Buffer.from("agent@example.com/token:zendesk-test-token").toString("base64");
    expect(request?.headers).toMatchObject({ authorization: `Basic ${basic}`, "content-type": "application/json", accept: "application/json" });
    const body = request?.body as { ticket: { comment: { body: string; public: boolean } } };
    expect(body).toEqual({ ticket: { comment: { body: expect.any(String) as string, public: false } } });
    expect(body.ticket.comment.body).toMatch(/^session_id: s-1\ntimestamp: .+ UTC\n\n\[1\] Opened <Billing>\n\[2\] Clicked Upgrade$/);
    // The fake puts a status change before the comment in a ticket's first audit.
    expect(await writer.getPartIds("s-1")).toEqual([`123:${fake.notesIn("123")[0]?.id}`]);
    expect(fake.notesIn("123")[0]?.public).toBe(false);
  });

  it.each(PATH_ESCAPING_IDS)("refuses the ticket id %j without any request: a permanent error (#8)", async (id) => {
    const writer = await setup();
    // The writer refuses it where it enters; the platform calls refuse it again (ids may come from a store).
    await expect(writer.writeActions(id, "s", actions("a"))).rejects.toBeInstanceOf(PayloadError);
    await expect(writer.post(id, "x")).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(writer.post(id, "x")).rejects.toThrow(/^Zendesk: invalid conversation id: /);
    await expect(writer.redact(id, "5000")).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(writer.redact("1", `${id}:5000`)).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(fake.requests).toEqual([]);
  });

  it("holds a burst to one update per minSpacingMs per ticket, delivering every action once, in order", async () => {
    // The fake allows 3 updates per second per ticket; 400 ms spacing stays under it.
    const writer = await setup({ minSpacingMs: 400 }, { maxUpdatesPerTicket: 3, windowMs: 1000 });
    const sent: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 12; i++) {
      sent.push(`click ${i}`);
      await writer.writeActions("77", "s", actions(`click ${i}`));
      await sleep(70); // longer than the 20 ms debounce: each batch would be a note of its own
    }
    const elapsed = Date.now() - started;
    await writer.onIdle();

    const puts = updates();
    expect(puts.every((r) => r.status === 200)).toBe(true);
    expect(puts.length).toBeGreaterThanOrEqual(2);
    // About one update per 400 ms of the burst (a loaded machine stretches the burst), never one per batch.
    expect(puts.length).toBeLessThanOrEqual(Math.min(6, Math.ceil(elapsed / 400) + 1));
    for (let i = 1; i < puts.length; i++) expect(puts[i]!.at - puts[i - 1]!.at).toBeGreaterThanOrEqual(370);
    expect(fake.notesIn("77").flatMap((n) => actionLines(n.body))).toEqual(sent);
    expect(writer.stats()).toMatchObject({ throttled: expect.any(Number) as number, postFailures: 0, deadLettered: 0 });
    expect(writer.stats().throttled).toBeGreaterThan(0);
  });

  it("spaces each ticket on its own", async () => {
    const writer = await setup({ minSpacingMs: 10_000 });
    await writer.writeActions("1", "s1", actions("a"));
    await writer.writeActions("2", "s2", actions("b"));
    await writer.onIdle();
    expect(updates().map((r) => r.path).sort()).toEqual(["/api/v2/tickets/1.json", "/api/v2/tickets/2.json"]);
  });

  it("waits for Retry-After on a 429 (the per-ticket limit), keeps coalescing, and posts once after it", async () => {
    const writer = await setup({}, { maxUpdatesPerTicket: 1, windowMs: 800 });
    await writer.writeActions("9", "s", actions("a"));
    await writer.flush();
    await writer.writeActions("9", "s", actions("b"));
    await waitFor(() => fake.requests.length === 2);
    await writer.writeActions("9", "s", actions("c"));
    await writer.onIdle();

    const puts = updates();
    expect(puts.map((r) => r.status)).toEqual([200, 429, 200]);
    // The fake answers `Retry-After: 1` (whole seconds).
    expect(puts[2]!.at - puts[1]!.at).toBeGreaterThanOrEqual(950);
    expect(fake.notesIn("9").map((n) => actionLines(n.body))).toEqual([["a"], ["b", "c"]]);
  });

  it("retries a 5xx at once, not after the spacing: a refused update took no slot", async () => {
    const writer = await setup({ minSpacingMs: 10_000 });
    fake.faults.push({ status: 503 }, { status: 502 });
    const started = Date.now();
    await writer.writeActions("5", "s", actions("a"));
    await writer.onIdle();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(updates().map((r) => r.status)).toEqual([503, 502, 200]);
    expect(fake.notesIn("5")).toHaveLength(1);
    expect((await writer.deadLetters())).toEqual([]);
  });

  it("retries a reset connection and a hung request; these keep the slot, as the update may have landed", async () => {
    const writer = await setup({ minSpacingMs: 200, postTimeoutMs: 100, requestTimeoutMs: 150 });
    fake.faults.push({ reset: true }, { hang: true });
    const started = Date.now();
    await writer.writeActions("5", "s", actions("a"));
    await writer.onIdle();
    expect(updates()).toHaveLength(3);
    // The backoff after the reset is 30 ms; the spacing (200 ms) is what held the second try.
    expect(updates()[1]!.at - updates()[0]!.at).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(fake.notesIn("5")).toHaveLength(1);
    expect(writer.stats()).toMatchObject({ retries: 2, deadLettered: 0 });
  });

  it("a deleted ticket is a conversation gone, dead-lettered without retrying", async () => {
    const writer = await setup();
    fake.deleteConversation("404");
    await writer.writeActions("404", "s", actions("a"));
    await writer.onIdle();
    expect(updates().map((r) => r.status)).toEqual([404]);
    expect(await writer.deadLetters()).toMatchObject([{ conversationId: "404", reason: "conversation_gone", attempts: 1 }]);
  });

  it("a closed ticket (422 'closed prevents ticket update') is a conversation gone too, not a permanent error (#9)", async () => {
    const writer = await setup();
    fake.closeTicket("55");
    await writer.writeActions("55", "s", actions("a"));
    await writer.onIdle();
    expect(updates().map((r) => [r.status, r.body])).toEqual([[422, { ticket: { comment: { body: expect.any(String) as string, public: false } } }]]);
    expect(await writer.deadLetters()).toMatchObject([{ conversationId: "55", reason: "conversation_gone", attempts: 1 }]);
    await expect(writer.post("55", "x")).rejects.toBeInstanceOf(ConversationGoneError);
    // The variants seen in the wild: the detail under `base`, or tagged "ClosedTicket".
    fake.faults.push(
      { status: 422, body: { error: "RecordInvalid", details: { base: [{ description: "Status: closed prevents ticket update" }] } } },
      { status: 422, body: { details: { status: [{ error: "ClosedTicket", description: "closed" }] } } },
      { status: 422, body: { error: "RecordInvalid", description: "Record validation errors", details: { comment: [{ description: "too long" }] } } },
    );
    await expect(writer.post("56", "x")).rejects.toBeInstanceOf(ConversationGoneError);
    await expect(writer.post("56", "x")).rejects.toBeInstanceOf(ConversationGoneError);
    const other = writer.post("56", "x");
    await expect(other).rejects.toBeInstanceOf(PermanentDeliveryError);
    await expect(other).rejects.not.toBeInstanceOf(ConversationGoneError);
    expect(ZENDESK_CLOSED_TICKET_ANSWER.details.status[0].description).toBe("Status: closed prevents ticket update");
  });

  describe("redaction (#9)", () => {
    const redactions = () => fake.requests.filter((r) => r.path.startsWith("/api/v2/comment_redactions/"));
    const listings = () => fake.requests.filter((r) => r.method === "GET");

    it("wraps the comment's own html_body in <redact>, links included, and checks the ▇ in the answer", async () => {
      const writer = await setup();
      await writer.writeActions("123", "s", actions("Opened https://app.example/billing?card=4242 & <b>"));
      await writer.flush();
      const [partId] = await writer.getPartIds("s");
      const note = fake.notesIn("123")[0]!;
      expect(partId).toBe(`123:${note.id}`);
      expect(note.stored).toContain('<a href="https://app.example/billing?card=4242"');
      await writer.redact("123", partId!);

      expect(listings().map((r) => r.path)).toEqual([`/api/v2/tickets/123/comments.json?sort_order=desc&page%5Bsize%5D=100`]);
      const [put] = redactions();
      expect(put).toMatchObject({ method: "PUT", path: `/api/v2/comment_redactions/${note.id}.json`, status: 200 });
      const sent = put?.body as { ticket_id: unknown; html_body: string };
      expect(sent.ticket_id).toBe(123);
      expect(sent.html_body).toContain("<redact>");
      expect(sent.html_body).toContain("<a redact href=");
      expect(note.redacted).toBe(true);
      expect(note.stored).toContain("▇");
      expect(note.stored).not.toMatch(/4242|Opened|session_id|href/);
    });

    it("is idempotent: a comment already all ▇, or gone, is done without a redaction request", async () => {
      const writer = await setup();
      await writer.writeActions("123", "s", actions("a"));
      await writer.flush();
      const [partId] = await writer.getPartIds("s");
      await writer.redact("123", partId!);
      await writer.redact("123", partId!);
      await writer.redact("123", "123:999999");
      fake.deleteConversation("124");
      await writer.redact("124", "124:5");
      expect(redactions()).toHaveLength(1);
      expect(listings().map((r) => r.status)).toEqual([200, 200, 200, 404]);
    });

    it("redacts where the note was posted, whatever ticket the caller names; a bare comment id uses the caller's", async () => {
      const writer = await setup();
      await writer.writeActions("7", "s", actions("a"));
      await writer.flush();
      const [partId] = await writer.getPartIds("s");
      await writer.redact("8", partId!);
      expect(fake.notesIn("7")[0]?.redacted).toBe(true);
      await writer.writeActions("7", "s", actions("b"));
      await writer.flush();
      await writer.redact("7", fake.notesIn("7")[1]!.id);
      expect(fake.notesIn("7")[1]?.redacted).toBe(true);
      await expect(writer.redact("7", "not-a-comment")).rejects.toBeInstanceOf(PermanentDeliveryError);
    });

    it("pages through the ticket's comments, newest first, to find an older one", async () => {
      const writer = await setup({}, { maxPageSize: 1 });
      for (const d of ["a", "b", "c"]) {
        await writer.writeActions("9", "s", actions(d));
        await writer.flush();
      }
      const [oldest] = await writer.getPartIds("s");
      await writer.redact("9", oldest!);
      expect(listings().map((r) => new URL(r.path, "http://x").searchParams.get("page[after]"))).toEqual([null, "1", "2"]);
      expect(fake.notesIn("9").map((n) => n.redacted)).toEqual([true, false, false]);
    });

    it("an answer that still shows the text is permanent (no Agent Workspace); one without the comment is retryable", async () => {
      const writer = await setup();
      await writer.writeActions("123", "s", actions("a"));
      await writer.flush();
      const [partId] = await writer.getPartIds("s");
      fake.faults.push({ pass: true }, { status: 200, body: { comment: { id: 1, html_body: '<div class="zd-comment">a</div>' } } });
      await expect(writer.redact("123", partId!)).rejects.toBeInstanceOf(PermanentDeliveryError);
      fake.faults.push({ pass: true }, { status: 200 });
      await expect(writer.redact("123", partId!)).rejects.toBeInstanceOf(RetryableDeliveryError);
      expect(fake.notesIn("123")[0]?.redacted).toBe(false);
      await writer.redact("123", partId!);
      expect(fake.notesIn("123")[0]?.redacted).toBe(true);
    });

    it("the stand-in, like the API, removes nothing for a request without <redact> tags", async () => {
      const writer = await setup();
      await writer.writeActions("123", "s", actions("a"));
      await writer.flush();
      const note = fake.notesIn("123")[0]!;
      const answer = await fetch(`${fake.url}/api/v2/comment_redactions/${note.id}.json`, {
        method: "PUT",
        headers: { authorization: String(fake.requests[0]?.headers.authorization), "content-type": "application/json" },
        body: JSON.stringify({ ticket_id: 123 }),
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { comment: { html_body: string } }).comment.html_body).not.toContain("▇");
      expect(note.redacted).toBe(false);
    });
  });

  it("rejects bad options with a TypeError naming them", () => {
    const base = { productId: "p", apiBase: "https://acme.zendesk.com", email: "a@b.c", apiToken: "t" };
    expect(() => new ZendeskWriter({ ...base, apiBase: "acme.zendesk.com" })).toThrow(/`apiBase`/);
    expect(() => new ZendeskWriter({ ...base, email: "" })).toThrow(/`email`/);
    expect(() => new ZendeskWriter({ ...base, apiToken: 5 as unknown as string })).toThrow(/`apiToken`/);
    expect(() => new ZendeskWriter({ ...base, minSpacingMs: -1 })).toThrow(/`minSpacingMs`/);
    expect(() => new ZendeskWriter({ ...base, requestTimeoutMs: Number.NaN })).toThrow(/`requestTimeoutMs`/);
  });
});
