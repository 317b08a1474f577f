/** Faults 6, 7, 8 and 10: replays, timestamps, link races, very large flushes. */
import { startFakeIntercom, type FakeIntercom } from "../../support/fake-platforms.js";
import type { Bridge } from "../harness/bridge.js";
import { deadLetterText, Ledger } from "../harness/ledger.js";
import type { Scenario, ScenarioContext } from "../harness/row.js";
import { actionsBody, getText, intercomEnv, intercomWebhook, SECRETS, sendEvents, sleep } from "../harness/send.js";
import { bridge, increasing, platform, send, sendEach, settle, sharedRedisPrefix, statusSummary } from "./helpers.js";

const intercom = () => startFakeIntercom({ token: SECRETS.intercomToken, adminId: SECRETS.intercomAdmin });

/** The flush-note rule: one note first holding every pre-link action, every action once, in order. */
function checkFlush(ctx: ScenarioContext, ledger: Ledger, fake: FakeIntercom, session: string, conversation: string, pre: number[]): void {
  const notes = fake.notesIn(conversation).map((n) => ledger.tokensIn(n.body));
  const first = new Set(notes[0] ?? []);
  const missing = pre.filter((n) => !first.has(ledger.token(session, n)));
  ctx.check(missing.length === 0, `${session}: pre-link action(s) ${missing.join(",")} not in the first (flush) note`);
  ctx.check(increasing(notes.flat()), `${session}: actions out of order or repeated across notes: ${notes.map((n) => n.map((t) => Number(t.slice(-5))).join(",")).join(" | ")}`);
  ctx.check(notes.every((n) => n.length > 0), `${session}: a note without actions`);
}

async function replayScenario(ctx: ScenarioContext, tag: string, bridges: Bridge[], fake: FakeIntercom): Promise<void> {
  const ledger = new Ledger(tag);
  const [a, b = a] = bridges as [Bridge, ...Bridge[]];
  const base = Date.now() / 1000 - 20;
  const act = (n: number) => ledger.action("s1", n, base + n);
  const statuses: number[] = [];
  const both = async (body: string, actions: ReturnType<typeof act>[]) => {
    const sent = await Promise.all([sendEvents(a.url, body), sendEvents(b.url, body)]);
    for (const s of sent) {
      ledger.record(actions, s);
      statuses.push(s.status);
    }
  };
  // Pre-link: the same body twice (to both instances at once), again later, re-sent with a new
  // forwarded_at, and re-batched overlapping the first.
  const first = [1, 2, 3, 4, 5].map(act);
  const body = actionsBody("s1", first);
  await both(body, first);
  statuses.push((await sendEvents(a.url, body)).status);
  statuses.push((await send(ledger, b.url, "s1", first, {}, { forwarded_at: Date.now() / 1000 + 7 })).status);
  statuses.push((await send(ledger, a.url, "s1", [3, 4, 5, 6, 7].map(act))).status);
  // The same webhook twice on each instance at once, plus a second notification for the same link.
  const hook = { id: `n-${tag}`, conversationId: `c-${tag}`, sessionId: "s1" };
  const hooks = await Promise.all([
    intercomWebhook(a.url, hook),
    intercomWebhook(b.url, hook),
    intercomWebhook(a.url, hook),
    intercomWebhook(b.url, { ...hook, id: `n-${tag}-replied`, topic: "conversation.user.replied" }),
  ]);
  ledger.target("s1", `c-${tag}`);
  // Post-link: each batch to both instances, then again with a new forwarded_at.
  for (const group of [[8, 9], [10, 11]]) {
    const actions = group.map(act);
    await both(actionsBody("s1", actions), actions);
    statuses.push((await send(ledger, b.url, "s1", actions, {}, { forwarded_at: Date.now() / 1000 + 9 })).status);
    await sleep(300);
  }
  await settle(ledger, fake, 10_000, 1200);
  const linkStatuses = hooks.map((h) => h.status);
  ctx.check(linkStatuses.every((s) => s === 200), `webhook statuses ${linkStatuses.join(",")}`);
  ctx.check(statuses.every((s) => s === 202), `batch statuses ${statusSummary(statuses)}`);
  checkFlush(ctx, ledger, fake, "s1", `c-${tag}`, [1, 2, 3, 4, 5, 6, 7]);
  const flushNotes = fake.notesIn(`c-${tag}`).filter((n) => ledger.tokensIn(n.body).some((t) => Number(t.slice(-5)) <= 7)).length;
  ctx.check(flushNotes === 1, `${flushNotes} notes carry pre-link actions (one flush note expected)`);
  const metrics = (await getText(`${a.url}/metrics`)).text;
  const dupMetric = /duplicate/i.test(metrics);
  ctx.check(dupMetric, "no duplicate-actions metric in /metrics");
  ctx.observe(`${statuses.length} batch sends (${statusSummary(statuses)}), 4 webhooks; ${fake.notesIn(`c-${tag}`).length} notes; duplicates metric: ${dupMetric}`);
  ctx.counts(ledger.tally(fake, await deadLetterText(bridges)));
}

export const replayMemory: Scenario = {
  id: "6a",
  fault: "the same payload and webhook twice, re-sent with a new forwarded_at, re-batched (memory)",
  expected: "each action once, one flush note, one link; duplicates counted in /metrics",
  timeoutMs: 40_000,
  async run(ctx) {
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url));
    await replayScenario(ctx, "f6a", [b], fake);
  },
};

export const replayTwoInstances: Scenario = {
  id: "6b",
  fault: "the same payloads and webhooks delivered to two instances sharing Redis",
  expected: "each action once, one flush note, one link; duplicates counted in /metrics",
  timeoutMs: 40_000,
  async run(ctx) {
    const { url, prefix } = await sharedRedisPrefix(ctx, "f6b");
    const fake = await platform(ctx, intercom());
    const env = intercomEnv(fake.url, { REDIS_URL: url, REDIS_KEY_PREFIX: prefix });
    const bridges = [await bridge(ctx, env), await bridge(ctx, env)];
    await replayScenario(ctx, "f6b", bridges, fake);
  },
};

/** Token numbers in the order the notes show them, note by note. */
function order(ledger: Ledger, fake: FakeIntercom, conversation: string): number[][] {
  return fake.notesIn(conversation).map((n) => ledger.tokensIn(n.body).map((t) => Number(t.slice(-5))));
}

export const timestamps: Scenario = {
  id: "7",
  fault: "timestamps far in the past, far in the future, missing, out of order (memory and Redis)",
  expected: "pre-link: a 2001 stamp trimmed by the window and counted in /metrics; notes sorted by time (future/missing stamps filed at arrival); memory and Redis agree",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("f7");
    const { url, prefix } = await sharedRedisPrefix(ctx, "f7");
    const fakes = [await platform(ctx, intercom()), await platform(ctx, intercom())] as const;
    // A 1 s debounce keeps the two post-link batches in one note on a loaded machine.
    const slow = { POST_LINK_DEBOUNCE_MS: "1000" };
    const bridges = [await bridge(ctx, intercomEnv(fakes[0].url, slow)), await bridge(ctx, intercomEnv(fakes[1].url, { ...slow, REDIS_URL: url, REDIS_KEY_PREFIX: prefix }))];
    const now = Date.now() / 1000;
    const year = 365 * 86_400;
    const results: number[][][] = [];
    let trimmedCounted = 0;
    for (const [i, b] of bridges.entries()) {
      const s = i === 0 ? "m" : "r";
      const fake = fakes[i] as FakeIntercom;
      ledger.target(s, `c-f7${s}`);
      const a = (n: number, ts: number) => ledger.action(s, n, ts);
      const missing = { ...a(5, 0), timestamp_start: undefined, timestamp_end: undefined };
      await send(ledger, b.url, s, [a(1, now - 10), a(2, 1e9), a(3, now + year), a(4, now - 20), missing]);
      ledger.exempt(ledger.token(s, 2));
      await intercomWebhook(b.url, { id: `n-f7${s}`, conversationId: `c-f7${s}`, sessionId: s });
      await sleep(300);
      await send(ledger, b.url, s, [a(8, now - 5), a(6, now - 30), a(7, now - 15)]);
      await send(ledger, b.url, s, [a(9, 1e9)]);
      await settle(ledger, fake, 10_000, 500);
      results.push(order(ledger, fake, `c-f7${s}`));
      const metrics = (await getText(`${b.url}/metrics`)).text;
      if (/trimmed\S*\s+[1-9]/.test(metrics)) trimmedCounted++;
    }
    const expected = [[4, 1, 3, 5], [9, 6, 7, 8]];
    for (const [i, got] of results.entries()) {
      ctx.check(JSON.stringify(got) === JSON.stringify(expected), `${i === 0 ? "memory" : "Redis"}: notes ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
    ctx.check(JSON.stringify(results[0]) === JSON.stringify(results[1]), "memory and Redis disagree");
    ctx.check(trimmedCounted === 2, `trimmed actions in /metrics on ${trimmedCounted} of 2 bridges`);
    const leaked = results.flat(2).filter((n) => n === 2).length;
    ctx.check(leaked === 0, "the 2001 pre-link action was not trimmed");
    ctx.observe(`memory ${JSON.stringify(results[0])}, Redis ${JSON.stringify(results[1])}; trimmed in /metrics on ${trimmedCounted}/2`);
    ctx.counts(ledger.tally([...fakes], await deadLetterText(bridges)));
  },
};

export const linkRaces: Scenario = {
  id: "8a",
  fault: "link webhook mid-burst, before any action, twice at once (memory)",
  expected: "exactly one flush note with every pre-link action, then normal notes, in order; no empty note",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("f8a");
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url));
    for (const s of ["a", "b", "c"]) ledger.target(s, `c-f8a${s}`);
    // a: the link arrives in the middle of a burst.
    const burst = (async () => {
      await sendEach(ledger, b.url, "a", 1, 10, 40);
      const link = intercomWebhook(b.url, { id: "n-f8aa", conversationId: "c-f8aa", sessionId: "a" });
      await sendEach(ledger, b.url, "a", 11, 20, 40);
      return (await link).status;
    })();
    // b: two different notifications for the same link at once, and the same one twice.
    await sendEach(ledger, b.url, "b", 1, 5, 0);
    const hooks = await Promise.all([
      intercomWebhook(b.url, { id: "n-f8ab1", conversationId: "c-f8ab", sessionId: "b" }),
      intercomWebhook(b.url, { id: "n-f8ab2", conversationId: "c-f8ab", sessionId: "b", topic: "conversation.user.replied" }),
      intercomWebhook(b.url, { id: "n-f8ab1", conversationId: "c-f8ab", sessionId: "b" }),
    ]);
    await sendEach(ledger, b.url, "b", 6, 8, 30);
    // c: linked before any action.
    await intercomWebhook(b.url, { id: "n-f8ac", conversationId: "c-f8ac", sessionId: "c" });
    await sendEach(ledger, b.url, "c", 1, 5, 30);
    const linkA = await burst;
    await settle(ledger, fake, 10_000, 800);
    ctx.check(linkA === 200 && hooks.every((h) => h.status === 200 || h.status === 503), `webhook statuses ${[linkA, ...hooks.map((h) => h.status)].join(",")}`);
    checkFlush(ctx, ledger, fake, "a", "c-f8aa", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    checkFlush(ctx, ledger, fake, "b", "c-f8ab", [1, 2, 3, 4, 5]);
    checkFlush(ctx, ledger, fake, "c", "c-f8ac", []);
    ctx.observe(["a", "b", "c"].map((s) => `${s}: ${JSON.stringify(order(ledger, fake, `c-f8a${s}`).map((n) => n.length))} actions per note`).join(", "));
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};

export const linkRacesTwoInstances: Scenario = {
  id: "8b",
  fault: "link webhook mid-burst on two instances at once, batches alternating (Redis)",
  expected: "exactly one flush note with every pre-link action, then normal notes, in order",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("f8b");
    const { url, prefix } = await sharedRedisPrefix(ctx, "f8b");
    const fake = await platform(ctx, intercom());
    const env = intercomEnv(fake.url, { REDIS_URL: url, REDIS_KEY_PREFIX: prefix });
    const bridges = [await bridge(ctx, env), await bridge(ctx, env)] as const;
    const pick = (n: number) => bridges[n % 2]!.url;
    ledger.target("a", "c-f8ba");
    ledger.target("b", "c-f8bb");
    await sendEach(ledger, pick, "a", 1, 10, 30);
    const hook = { id: "n-f8ba", conversationId: "c-f8ba", sessionId: "a" };
    const links = Promise.all(bridges.map((b) => intercomWebhook(b.url, hook)));
    await sendEach(ledger, pick, "a", 11, 20, 30);
    await sendEach(ledger, pick, "b", 1, 4, 0);
    const twoEvents = await Promise.all([
      intercomWebhook(bridges[0].url, { id: "n-f8bb1", conversationId: "c-f8bb", sessionId: "b" }),
      intercomWebhook(bridges[1].url, { id: "n-f8bb2", conversationId: "c-f8bb", sessionId: "b", topic: "conversation.user.replied" }),
    ]);
    await sendEach(ledger, pick, "b", 5, 8, 30);
    const statuses = [...(await links), ...twoEvents].map((h) => h.status);
    await settle(ledger, fake, 10_000, 800);
    ctx.check(statuses.every((s) => s === 200), `webhook statuses ${statuses.join(",")}`);
    checkFlush(ctx, ledger, fake, "a", "c-f8ba", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    checkFlush(ctx, ledger, fake, "b", "c-f8bb", [1, 2, 3, 4]);
    ctx.observe(["a", "b"].map((s) => `${s}: ${JSON.stringify(order(ledger, fake, `c-f8b${s}`).map((n) => n.length))} actions per note`).join(", "));
    ctx.counts(ledger.tally(fake, await deadLetterText([...bridges])));
  },
};

async function largeFlush(ctx: ScenarioContext, tag: string, redis: boolean): Promise<void> {
  const ledger = new Ledger(tag);
  const fake = await platform(ctx, intercom());
  const store = redis ? await sharedRedisPrefix(ctx, tag) : undefined;
  const b = await bridge(ctx, intercomEnv(fake.url, store ? { REDIS_URL: store.url, REDIS_KEY_PREFIX: store.prefix } : {}));
  ledger.target("a", `c-${tag}`);
  const base = Date.now() / 1000 - 60;
  const statuses: number[] = [];
  for (let batch = 0; batch < 6; batch++) {
    const actions = Array.from({ length: 500 }, (_, i) => ledger.action("a", batch * 500 + i + 1, base + (batch * 500 + i) * 0.01, "clicked a fairly long button label in the settings page"));
    statuses.push((await send(ledger, b.url, "a", actions)).status);
  }
  const linked = await intercomWebhook(b.url, { id: `n-${tag}`, conversationId: `c-${tag}`, sessionId: "a" });
  await settle(ledger, fake, 30_000, 800);
  const notes = fake.notesIn(`c-${tag}`);
  const longest = Math.max(0, ...notes.map((n) => n.body.length));
  const sequence = notes.flatMap((n) => ledger.tokensIn(n.body));
  ctx.check(statuses.every((s) => s === 202) && linked.status === 200, `statuses ${statusSummary(statuses)}, link ${linked.status}`);
  ctx.check(longest <= 100_000, `a note of ${longest} characters`);
  ctx.check(increasing(sequence), "flush notes out of order");
  ctx.observe(`3,000 buffered actions → ${notes.length} notes, longest ${longest} chars`);
  ctx.counts(ledger.tally(fake, await deadLetterText([b])));
}

export const largeFlushMemory: Scenario = {
  id: "10a",
  fault: "a flush of 3,000 buffered actions (memory)",
  expected: "split into size-bounded notes, earliest first, nothing truncated",
  timeoutMs: 60_000,
  run: (ctx) => largeFlush(ctx, "f10a", false),
};

export const largeFlushRedis: Scenario = {
  id: "10b",
  fault: "a flush of 3,000 buffered actions (Redis)",
  expected: "split into size-bounded notes, earliest first, nothing truncated",
  timeoutMs: 60_000,
  run: (ctx) => largeFlush(ctx, "f10b", true),
};
