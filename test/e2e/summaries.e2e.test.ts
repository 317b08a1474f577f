/**
 * End to end: LLM summaries in the real CLI (child process) against a local OpenAI-compatible
 * endpoint and the Intercom / Zendesk stand-ins, SUMMARY_THRESHOLD=6: the summary note is posted,
 * then exactly the notes it covers are redacted, never the one posted while the LLM was thinking.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { sign } from "../../src/server/signatures.js";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.js";
import { startFakeIntercom, startFakeZendesk, type FakeNote, type FakePlatform } from "../support/fake-platforms.js";
import { FakeLlmServer } from "../support/fake-llm.js";
import { connectTestRedis, deleteByPrefix, redisUrl, uniquePrefix } from "../support/redis.js";

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function track<T extends { close(): Promise<unknown> }>(thing: Promise<T>): Promise<T> {
  const started = await thing;
  cleanups.push(() => started.close());
  return started;
}

async function bridgeWith(llm: FakeLlmServer, env: Record<string, string>): Promise<BridgeProcess> {
  const bridge = await startBridgeProcess({
    POST_LINK_DEBOUNCE_MS: "50",
    POST_TIMEOUT_MS: "2000",
    ALLOW_UNSIGNED: "true",
    LLM_BASE_URL: llm.baseUrl,
    LLM_API_KEY: "sk-e2e",
    LLM_MODEL: "tiny",
    SUMMARY_THRESHOLD: "6",
    ...env,
  });
  cleanups.push(() => bridge.stop("SIGKILL"));
  return bridge;
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

/** Sends one action per request and waits for its note, so each note carries one action. */
async function sendOneByOne(bridge: BridgeProcess, fake: FakePlatform, conversationId: string, sessionId: string, descriptions: string[], first = 0): Promise<void> {
  for (const [i, description] of descriptions.entries()) {
    const before = fake.notesIn(conversationId).length;
    const body = JSON.stringify({ type: "actions", product_id: "e2e", session_id: sessionId, actions: [{ index: first + i, type: "click", description, canonical_url: "https://app/x", timestamp_start: Date.now() / 1000 }] });
    expect((await post(`${bridge.url}/events`, body)).status).toBe(202);
    await vi.waitFor(() => expect(fake.notesIn(conversationId).length).toBe(before + 1), { timeout: 5000 });
  }
}

const ACTIONS = ["Opened Billing", "Clicked Upgrade", "Chose Pro plan", "Entered card", "Submitted card form", "Saw card declined"];
const SUMMARY = "The user tried to upgrade to Pro; the card was declined.";

/** Checks the summary came first, then the redactions of exactly the six action notes, each of whose action is in the prompt. */
function expectOverwrite(notes: FakeNote[], summaryIndex: number, prompt: string): void {
  const actionNotes = notes.slice(0, 6);
  const summary = notes[summaryIndex] as FakeNote;
  const meanwhile = notes.filter((_, i) => i >= 6 && i !== summaryIndex);
  expect(summary.body).toContain(SUMMARY);
  expect(summary.redacted).toBe(false);
  for (const [i, note] of actionNotes.entries()) {
    expect(note.redacted).toBe(true);
    expect(prompt).toContain(`click: ${ACTIONS[i]} \u2014 https://app/x`);
  }
  for (const note of meanwhile) expect(note.redacted).toBe(false);
}

describe("summaries in the service", () => {
  it("Intercom: the summary note, then POST /conversations/redact for exactly the covered parts", async () => {
    const llm = await track(new FakeLlmServer().start());
    const fake = await track(startFakeIntercom({ token: "t", adminId: "7" }));
    const bridge = await bridgeWith(llm, { DESTINATION: "intercom", INTERCOM_TOKEN: "t", INTERCOM_ADMIN_ID: "7", INTERCOM_API_BASE: fake.url });
    const hook = JSON.stringify({ type: "notification_event", id: "n-1", topic: "conversation.user.created", data: { item: { id: "conv-s", custom_attributes: { session_id: "ph-s" } } } });
    expect((await post(`${bridge.url}/webhooks/intercom`, hook)).status).toBe(200);
    llm.reply({ text: SUMMARY, delayMs: 1_500 });
    await sendOneByOne(bridge, fake, "conv-s", "ph-s", ACTIONS.slice(0, 5));
    await sendOneByOne(bridge, fake, "conv-s", "ph-s", ACTIONS.slice(5), 5);
    // The LLM is thinking: this note goes out before the summary and is not covered.
    await sendOneByOne(bridge, fake, "conv-s", "ph-s", ["Opened Help while the LLM thinks"], 6);
    await vi.waitFor(() => expect(fake.requests.filter((r) => r.path === "/conversations/redact" && r.status === 200)).toHaveLength(6), { timeout: 10_000 });
    const notes = fake.notesIn("conv-s");
    expect(notes).toHaveLength(8);
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]).toMatchObject({ authorization: "Bearer sk-e2e", body: { model: "tiny" } });
    expect(llm.requests[0]?.prompt).not.toContain("Opened Help");
    expectOverwrite(notes, 7, llm.requests[0]?.prompt ?? "");
    const redacts = fake.requests.filter((r) => r.path === "/conversations/redact");
    expect(redacts.map((r) => (r.body as { conversation_part_id: string }).conversation_part_id)).toEqual(notes.slice(0, 6).map((n) => n.id));
    const summaryPost = fake.requests.findIndex((r) => r.path === "/conversations/conv-s/reply" && JSON.stringify(r.body).includes("card was declined"));
    expect(summaryPost).toBeGreaterThan(-1);
    expect(redacts.every((r) => fake.requests.indexOf(r) > summaryPost)).toBe(true);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_summaries_posted_total 1/);
    expect(metrics).toMatch(/bridge_redactions_total 6/);
    expect(metrics).toMatch(/bridge_llm_failures_total 0/);
  });

  it("with REDIS_URL: the same overwrite step through the Redis engine", async () => {
    const redis = await connectTestRedis();
    const prefix = uniquePrefix("e2e-summaries");
    cleanups.push(async () => {
      await deleteByPrefix(redis, prefix);
      await redis.close();
    });
    const llm = await track(new FakeLlmServer().start());
    const fake = await track(startFakeIntercom({ token: "t", adminId: "7" }));
    const bridge = await bridgeWith(llm, { DESTINATION: "intercom", INTERCOM_TOKEN: "t", INTERCOM_ADMIN_ID: "7", INTERCOM_API_BASE: fake.url, REDIS_URL: redisUrl(), REDIS_KEY_PREFIX: prefix });
    const hook = JSON.stringify({ type: "notification_event", id: "n-r", topic: "conversation.user.created", data: { item: { id: "conv-r", custom_attributes: { session_id: "ph-r" } } } });
    expect((await post(`${bridge.url}/webhooks/intercom`, hook)).status).toBe(200);
    llm.reply({ text: SUMMARY, delayMs: 1_500 });
    await sendOneByOne(bridge, fake, "conv-r", "ph-r", ACTIONS);
    await sendOneByOne(bridge, fake, "conv-r", "ph-r", ["Opened Help while the LLM thinks"], 6);
    await vi.waitFor(() => expect(fake.notesIn("conv-r").filter((n) => n.redacted)).toHaveLength(6), { timeout: 10_000 });
    const notes = fake.notesIn("conv-r");
    expect(notes).toHaveLength(8);
    expectOverwrite(notes, 7, llm.requests[0]?.prompt ?? "");
  });

  it("Zendesk: the covered comments come back redacted (▇), the summary and the later comment intact", async () => {
    const llm = await track(new FakeLlmServer().start());
    const fake = await track(startFakeZendesk({ email: "agent@acme.test", apiToken: "zd-token" }));
    const bridge = await bridgeWith(llm, {
      DESTINATION: "zendesk",
      ZENDESK_API_BASE: fake.url,
      ZENDESK_EMAIL: "agent@acme.test",
      ZENDESK_API_TOKEN: "zd-token",
      ZENDESK_WEBHOOK_SECRET: "zd-secret",
      ZENDESK_MIN_SPACING_MS: "0",
    });
    const hook = JSON.stringify({ ticket_id: 321, session_id: "ph-z" });
    const at = new Date().toISOString();
    const linked = await post(`${bridge.url}/webhooks/zendesk`, hook, { "x-zendesk-webhook-signature": sign.zendesk(hook, "zd-secret", at), "x-zendesk-webhook-signature-timestamp": at });
    expect(linked.status).toBe(200);
    llm.reply({ status: 429, headers: { "retry-after": "0" } }, { text: SUMMARY, delayMs: 1_500 });
    await sendOneByOne(bridge, fake, "321", "ph-z", ACTIONS);
    await sendOneByOne(bridge, fake, "321", "ph-z", ["Opened Help while the LLM thinks"], 6);
    await vi.waitFor(() => expect(fake.notesIn("321").filter((n) => n.redacted)).toHaveLength(6), { timeout: 10_000 });
    const notes = fake.notesIn("321");
    expect(notes).toHaveLength(8);
    for (const note of notes.slice(0, 6)) expect(note.stored).toContain("\u2587");
    expect(notes[7]?.stored).not.toContain("\u2587");
    expect(llm.requests).toHaveLength(2); // the 429 was retried
    expectOverwrite(notes, 7, llm.requests[1]?.prompt ?? "");
  });
});
