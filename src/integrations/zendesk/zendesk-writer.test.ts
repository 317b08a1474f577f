import { describe, expect, it } from "vitest";
import { startFakeZendesk, type FakePlatform, type FakeZendeskOptions } from "../../../test/support/fake-platforms.js";
import { actionLines, actions, fastWriter, sleep, useCleanup, waitFor } from "../test-support/harness.js";
import { ZendeskWriter, type ZendeskWriterOptions } from "./zendesk-writer.js";

/** Exposes the protected redaction, as the manager would call it. */
class ProbeWriter extends ZendeskWriter {
  redact(ticketId: string, commentId: string): Promise<void> {
    return this.redactPart(ticketId, commentId);
  }
}

const cleanup = useCleanup();
let fake: FakePlatform;

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
    expect(await writer.getPartIds("s-1")).toEqual([fake.notesIn("123")[0]?.id]);
    expect(fake.notesIn("123")[0]?.public).toBe(false);
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
    const writer = await setup({ minSpacingMs: 200, postTimeoutMs: 150 });
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

  it("dead-letters a deleted ticket without retrying", async () => {
    const writer = await setup();
    fake.deleteConversation("404");
    await writer.writeActions("404", "s", actions("a"));
    await writer.onIdle();
    expect(updates().map((r) => r.status)).toEqual([404]);
    expect((await writer.deadLetters())).toMatchObject([{ conversationId: "404", reason: "permanent_error", attempts: 1 }]);
  });

  it("redacts a comment (ticket id as a number) and counts a missing one as done", async () => {
    const writer = await setup();
    await writer.writeActions("123", "s", actions("a"));
    await writer.flush();
    const [commentId] = await writer.getPartIds("s");
    await writer.redact("123", commentId!);
    await writer.redact("123", "999999");
    const redactions = fake.requests.filter((r) => r.path.startsWith("/api/v2/comment_redactions/"));
    expect(redactions.map((r) => [r.method, r.path, r.body, r.status])).toEqual([
      ["PUT", `/api/v2/comment_redactions/${commentId}.json`, { ticket_id: 123 }, 200],
      ["PUT", "/api/v2/comment_redactions/999999.json", { ticket_id: 123 }, 404],
    ]);
    expect(fake.notesIn("123")[0]?.redacted).toBe(true);
  });

  it("rejects bad options with a TypeError naming them", () => {
    const base = { productId: "p", apiBase: "https://acme.zendesk.com", email: "a@b.c", apiToken: "t" };
    expect(() => new ZendeskWriter({ ...base, apiBase: "acme.zendesk.com" })).toThrow(/`apiBase`/);
    expect(() => new ZendeskWriter({ ...base, email: "" })).toThrow(/`email`/);
    expect(() => new ZendeskWriter({ ...base, apiToken: 5 as unknown as string })).toThrow(/`apiToken`/);
    expect(() => new ZendeskWriter({ ...base, minSpacingMs: -1 })).toThrow(/`minSpacingMs`/);
  });
});
