/** Fault 12: the conversation is deleted or closed on the platform. */
import { startFakeHttpBridge, startFakeIntercom, startFakeZendesk, type FakePlatform } from "../../support/fake-platforms.js";
import type { Bridge } from "../harness/bridge.js";
import { deadLetterText, Ledger } from "../harness/ledger.js";
import type { Scenario, ScenarioContext } from "../harness/row.js";
import { httpEnv, intercomEnv, intercomWebhook, linkSession, SECRETS, sleep, waitUntil, zendeskEnv, zendeskWebhook, type Sent } from "../harness/send.js";
import { bridge, platform, sendEach, settle, sharedRedisPrefix } from "./helpers.js";

interface GoneSetup {
  fake: FakePlatform;
  /** The conversation that goes away and the one linked after it. */
  old: string;
  next: string;
  bridge: Bridge;
  link(session: string, conversation: string, id: string): Promise<Sent>;
  /** Makes the conversation gone (and plays `status` on the next call when set). */
  remove(conversation: string): void;
}

async function goneScenario(ctx: ScenarioContext, tag: string, setup: GoneSetup): Promise<void> {
  const { fake, bridge: b, link } = setup;
  const ledger = new Ledger(tag);
  const { old, next } = setup;
  ctx.check((await link("a", old, "1")).status === 200, "first link refused");
  ledger.target("a", old);
  await sendEach(ledger, b.url, "a", 1, 2, 0);
  await settle(ledger, fake, 8_000, 300);
  setup.remove(old);
  const removedAt = Date.now();
  await sendEach(ledger, b.url, "a", 3, 4, 0);
  const dead = await waitUntil(async () => ledger.tokensIn(await deadLetterText([b])).some((t) => t.endsWith("00003")), 8_000);
  ctx.check(dead, "the note for the gone conversation was not dead-lettered visibly");
  await sleep(300);
  // Later actions must not be posted there: they wait, visible, for a new link.
  await sendEach(ledger, b.url, "a", 5, 6, 0);
  await sleep(1500);
  const callsAfter = fake.requests.filter((r) => r.path.includes(old) && r.at >= removedAt).length;
  ctx.check(callsAfter === 1, `${callsAfter} calls to the gone conversation (one expected, then stop)`);
  // Stores agree: the gone conversation is no longer owned by the session; a new link works.
  const probe = await link("probe", old, "2");
  ctx.check(probe.status === 200, `linking another session to the gone conversation answered ${probe.status} (link store still names the old owner?)`);
  const relink = await link("a", next, "3");
  ctx.check(relink.status === 200, `re-linking the session to a new conversation answered ${relink.status}`);
  for (const n of [5, 6]) ledger.targetToken(ledger.token("a", n), next);
  for (const n of [3, 4]) ledger.targetToken(ledger.token("a", n), next);
  await sendEach(ledger, b.url, "a", 7, 8, 0);
  for (const n of [7, 8]) ledger.targetToken(ledger.token("a", n), next);
  await waitUntil(() => [5, 6, 7, 8].every((n) => fake.notesIn(next).some((note) => note.body.includes(ledger.token("a", n)))), 10_000);
  await sleep(500);
  ctx.observe(`calls to the gone conversation after deletion: ${callsAfter}; dead letter visible: ${dead}; new link ${relink.status}, probe ${probe.status}; notes in the new conversation: ${fake.notesIn(next).length}`);
  ctx.counts(ledger.tally(fake, await deadLetterText([b])));
}

export const goneIntercom: Scenario = {
  id: "12a",
  fault: "conversation deleted on Intercom (404), memory",
  expected: "one failed call, then no more posts there; its note in a visible dead letter; later actions wait and go to the next link; stores consistent",
  timeoutMs: 50_000,
  async run(ctx) {
    const fake = await platform(ctx, startFakeIntercom({ token: SECRETS.intercomToken, adminId: SECRETS.intercomAdmin }));
    const b = await bridge(ctx, intercomEnv(fake.url));
    await goneScenario(ctx, "f12a", {
      fake,
      old: "c-f12a",
      next: "c-f12a-new",
      bridge: b,
      link: (session, conversation, id) => intercomWebhook(b.url, { id: `n-f12a-${id}`, conversationId: conversation, sessionId: session }),
      remove: (conversation) => fake.deleteConversation(conversation),
    });
  },
};

export const goneHttpRedis: Scenario = {
  id: "12b",
  fault: "conversation gone on the HTTP bridge (410, then 404), Redis",
  expected: "one failed call, then no more posts there; its note in a visible dead letter; later actions wait and go to the next link; stores consistent",
  timeoutMs: 50_000,
  async run(ctx) {
    const { url, prefix } = await sharedRedisPrefix(ctx, "f12b");
    const fake = await platform(ctx, startFakeHttpBridge({ token: SECRETS.httpToken }));
    const b = await bridge(ctx, httpEnv(fake.url, { REDIS_URL: url, REDIS_KEY_PREFIX: prefix }));
    await goneScenario(ctx, "f12b", {
      fake,
      old: "c-f12b",
      next: "c-f12b-new",
      bridge: b,
      link: (session, conversation) => linkSession(b.url, session, conversation),
      remove: (conversation) => {
        fake.faults.push({ status: 410, body: { error: "gone" } });
        fake.deleteConversation(conversation);
      },
    });
  },
};

export const goneZendesk: Scenario = {
  id: "12c",
  fault: "Zendesk ticket closed (cannot be updated or reopened), memory",
  expected: "treated like a deleted conversation: one failed call, then no more posts there; visible dead letter; later actions go to the next ticket",
  timeoutMs: 50_000,
  async run(ctx) {
    const fake = await platform(ctx, startFakeZendesk({ email: SECRETS.zendeskEmail, apiToken: SECRETS.zendeskToken }));
    // The stand-in learns to close tickets on the integrations branch; without it the row says so.
    const close = (fake as { closeTicket?: (ticketId: string) => void }).closeTicket;
    ctx.check(close !== undefined, "the Zendesk stand-in cannot close tickets (test/support/fake-platforms.ts)");
    const b = await bridge(ctx, zendeskEnv(fake.url));
    await goneScenario(ctx, "f12c", {
      fake,
      old: "1201",
      next: "1202",
      bridge: b,
      link: (session, conversation) => zendeskWebhook(b.url, { ticketId: Number(conversation), sessionId: session }),
      remove: (conversation) => (close === undefined ? fake.deleteConversation(conversation) : close.call(fake, conversation)),
    });
  },
};
