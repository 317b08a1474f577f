/** Faults 3, 4 and 5, and issue 8 item 6: Redis restarted, a process SIGKILLed, SIGTERM drains. */
import { startFakeIntercom } from "../../support/fake-platforms.js";
import { deadLetterText, Ledger } from "../harness/ledger.js";
import { startProxy } from "../harness/proxy.js";
import { startOwnRedis } from "../harness/redis-server.js";
import type { Scenario } from "../harness/row.js";
import { actionsBody, getText, intercomEnv, intercomWebhook, SECRETS, sendEvents, sleep, waitUntil } from "../harness/send.js";
import { bridge, increasing, platform, send, sendEach, settle, sharedRedisPrefix, statusSummary } from "./helpers.js";

const intercom = () => startFakeIntercom({ token: SECRETS.intercomToken, adminId: SECRETS.intercomAdmin });

export const redisRestart: Scenario = {
  id: "3",
  fault: "Redis restarted mid-burst (own redis-server, SHUTDOWN SAVE, back after 1.5 s)",
  expected: "requests fail fast (503, each < 3 s) while Redis is down, the sender's retries land; reconnects; every action once; no session wedged",
  timeoutMs: 80_000,
  async run(ctx) {
    const ledger = new Ledger("f3");
    const redis = await startOwnRedis();
    ctx.defer(() => redis.dispose());
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: "faults3:" }));
    for (const s of ["a", "b"]) {
      await intercomWebhook(b.url, { id: `n-f3${s}`, conversationId: `c-f3${s}`, sessionId: s });
      ledger.target(s, `c-f3${s}`);
    }
    const statuses: number[] = [];
    let slowestDuringOutage = 0;
    let down = false;
    let readyDuring = -1;
    let restart: Promise<void> | undefined;
    for (let n = 1; n <= 30; n++) {
      if (n === 11) {
        restart = (async () => {
          await redis.stop();
          down = true;
          await sleep(700);
          readyDuring = (await getText(`${b.url}/readyz`)).status;
          await sleep(800);
          await redis.start();
          down = false;
        })();
        await sleep(50);
      }
      for (const s of ["a", "b"]) {
        const sent = await send(ledger, b.url, s, [ledger.action(s, n)], { maxTries: 40, deadlineMs: 30_000 });
        statuses.push(...sent.statuses);
        if (down || sent.tries > 1) slowestDuringOutage = Math.max(slowestDuringOutage, sent.slowestMs);
      }
      await sleep(50);
    }
    await restart;
    // Not wedged: one more action per session after Redis is back.
    for (const s of ["a", "b"]) await send(ledger, b.url, s, [ledger.action(s, 31)], { maxTries: 40, deadlineMs: 30_000 });
    const done = await settle(ledger, fake, 30_000);
    const readyAfter = (await getText(`${b.url}/readyz`)).status;
    ctx.check(done, "not everything delivered within 30 s of the restart");
    ctx.check(statuses.some((s) => s === 503 || s === 0), "no request was refused while Redis was down (was it down?)");
    ctx.check(slowestDuringOutage < 3000, `a request took ${slowestDuringOutage} ms while Redis was down (should fail fast)`);
    ctx.check(readyDuring === 503, `/readyz answered ${readyDuring} while Redis was down`);
    ctx.check(readyAfter === 200, `/readyz answered ${readyAfter} after the restart`);
    for (const s of ["a", "b"]) {
      const seq = fake.notesIn(`c-f3${s}`).flatMap((n) => ledger.tokensIn(n.body));
      ctx.check(increasing([...new Set(seq)]), `session ${s}: notes out of order`);
    }
    ctx.observe(`statuses ${statusSummary(statuses)}; slowest while down ${slowestDuringOutage} ms; readyz ${readyDuring} down / ${readyAfter} after; ${fake.notesIn("c-f3a").length + fake.notesIn("c-f3b").length} notes`);
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};

export const sigkill: Scenario = {
  id: "4",
  fault: "SIGKILL between claiming a note and the platform's confirmation (Redis)",
  expected: "after restart another process re-delivers: a note that never reached the platform once, one the platform accepted again (at-least-once); pre-link buffer survives",
  duplicatesAllowed: "SIGKILL between post and confirm",
  timeoutMs: 80_000,
  async run(ctx) {
    const ledger = new Ledger("f4");
    const { url, prefix } = await sharedRedisPrefix(ctx, "f4");
    const fake = await platform(ctx, intercom());
    // c-f4a: the first call never reaches the platform; c-f4b: it is accepted, the answer never comes.
    const proxy = await startProxy(fake.url, (req, nth) => (nth > 1 ? "pass" : req.path.includes("c-f4a") ? "hold" : req.path.includes("c-f4b") ? "accept-then-hold" : "pass"));
    ctx.defer(() => proxy.close());
    const env = intercomEnv(proxy.url, { REDIS_URL: url, REDIS_KEY_PREFIX: prefix });
    const first = await bridge(ctx, env);
    for (const s of ["a", "b"]) {
      await intercomWebhook(first.url, { id: `n-f4${s}`, conversationId: `c-f4${s}`, sessionId: s });
      ledger.target(s, `c-f4${s}`);
    }
    ledger.target("c", "c-f4c");
    await sendEach(ledger, first.url, "c", 1, 3, 10);
    await sendEach(ledger, first.url, "a", 1, 3, 10);
    await sendEach(ledger, first.url, "b", 1, 3, 10);
    const claimed = await waitUntil(() => ["c-f4a", "c-f4b"].every((c) => proxy.seen.some((s) => s.path.includes(c))), 10_000);
    ctx.check(claimed, "the first process never called the platform for both sessions");
    const exit = await first.kill();
    const killedAt = Date.now();
    const second = await bridge(ctx, env);
    await intercomWebhook(second.url, { id: "n-f4c", conversationId: "c-f4c", sessionId: "c" });
    await sendEach(ledger, second.url, "a", 4, 5, 10);
    await sendEach(ledger, second.url, "b", 4, 5, 10);
    const done = await settle(ledger, fake, 40_000, 1500);
    const seen = ledger.occurrences(fake);
    // Only b's note reached the platform before the kill: a and c must not repeat.
    const dupA = [...seen].filter(([t, n]) => !t.includes("-b-") && n > 1).length;
    ctx.check(exit.signal === "SIGKILL", `first process ended with ${JSON.stringify(exit)}`);
    ctx.check(done, "not everything re-delivered within 40 s");
    ctx.check(dupA === 0, `${dupA} duplicate(s) of actions whose note never reached the platform before the kill`);
    for (const s of ["a", "b", "c"]) {
      const seq = fake.notesIn(`c-f4${s}`).flatMap((n) => ledger.tokensIn(n.body));
      ctx.check(increasing([...new Set(seq)]), `session ${s}: notes out of order: ${seq.join(" ")}`);
    }
    const redelivered = fake.notesIn("c-f4a")[0];
    ctx.observe(
      `killed while holding 2 claims; re-delivered by the second process ${redelivered ? `${((redelivered.at - killedAt) / 1000).toFixed(1)} s after the kill` : "never"}; ` +
        `notes a/b/c: ${["a", "b", "c"].map((s) => fake.notesIn(`c-f4${s}`).length).join("/")}`,
    );
    ctx.counts(ledger.tally(fake, await deadLetterText([second], [first, second])));
  },
};

async function drainScenario(ctx: Parameters<Scenario["run"]>[0], tag: string, redis: boolean): Promise<void> {
  const ledger = new Ledger(tag);
  const fake = await platform(ctx, intercom());
  const store = redis ? await sharedRedisPrefix(ctx, tag) : undefined;
  const env = intercomEnv(fake.url, { POST_LINK_DEBOUNCE_MS: "5000", SHUTDOWN_TIMEOUT_MS: "5000", ...(store ? { REDIS_URL: store.url, REDIS_KEY_PREFIX: store.prefix } : {}) });
  const b = await bridge(ctx, env);
  const sessions = ["a", "b", "c"];
  for (const s of sessions) {
    await intercomWebhook(b.url, { id: `n-${tag}${s}`, conversationId: `c-${tag}${s}`, sessionId: s });
    ledger.target(s, `c-${tag}${s}`);
  }
  for (const s of sessions) await sendEach(ledger, b.url, s, 1, 3, 0);
  const before = fake.notesIn(`c-${tag}a`).length;
  const t0 = Date.now();
  b.signal("SIGTERM");
  await sleep(100);
  // Intake stops: a batch sent during the drain is refused (503 / closed) or, if accepted, delivered.
  const late = await sendEvents(b.url, actionsBody("a", [ledger.action("a", 9)]), { retry: false, requestTimeoutMs: 3000 });
  ledger.record([ledger.action("a", 9)], late);
  const exit = await Promise.race([b.exited, sleep(15_000).then(() => undefined)]);
  const took = Date.now() - t0;
  const atExit = sessions.map((s) => fake.notesIn(`c-${tag}${s}`).length).join("/");
  let tail = "";
  if (redis && store) {
    // Whatever the drain left in Redis is another instance's to deliver.
    const next = await bridge(ctx, env);
    await settle(ledger, fake, 20_000);
    tail = `; notes after a second instance ran: ${sessions.map((s) => fake.notesIn(`c-${tag}${s}`).length).join("/")}`;
    ctx.counts(ledger.tally(fake, await deadLetterText([next], [b, next])));
  } else {
    await sleep(300);
    ctx.counts(ledger.tally(fake, await deadLetterText([], [b])));
  }
  ctx.check(before === 0, "a note went out before the debounce window closed (the scenario did not test an open window)");
  ctx.check(exit !== undefined && exit.code === 0, `exit ${JSON.stringify(exit)} instead of 0`);
  ctx.check(took <= 5000 + 3000, `drain took ${took} ms (SHUTDOWN_TIMEOUT_MS=5000)`);
  ctx.observe(`exit ${exit?.code ?? "none"} after ${took} ms; notes per session at exit ${atExit}; batch during drain: ${late.status || "refused connection"}${tail}`);
}

export const sigtermDrain: Scenario = {
  id: "5a",
  fault: "SIGTERM with open debounce windows (memory)",
  expected: "intake stops; every pending note delivered within the bounded drain (5 s); exit 0",
  timeoutMs: 40_000,
  run: (ctx) => drainScenario(ctx, "f5a", false),
};

export const sigtermDrainRedis: Scenario = {
  id: "5b",
  fault: "SIGTERM with open debounce windows (Redis)",
  expected: "intake stops; pending notes delivered by the drain (or left in Redis for the next instance); exit 0 within the bound",
  timeoutMs: 60_000,
  run: (ctx) => drainScenario(ctx, "f5b", true),
};

export const secondSigterm: Scenario = {
  id: "S6",
  fault: "issue 8.6: a second SIGTERM during the drain (slow platform: calls reach it 1.5 s late)",
  expected: "the second signal is logged and the drain goes on: every pending note delivered, exit 0",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("s6");
    const fake = await platform(ctx, intercom());
    const proxy = await startProxy(fake.url, () => ({ delayForwardMs: 1500 }));
    ctx.defer(() => proxy.close());
    const b = await bridge(ctx, intercomEnv(proxy.url, { POST_LINK_DEBOUNCE_MS: "5000", SHUTDOWN_TIMEOUT_MS: "8000", POST_TIMEOUT_MS: "4000" }));
    const sessions = ["a", "b", "c", "d"];
    for (const s of sessions) {
      await intercomWebhook(b.url, { id: `n-s6${s}`, conversationId: `c-s6${s}`, sessionId: s });
      ledger.target(s, `c-s6${s}`);
    }
    for (const s of sessions) await sendEach(ledger, b.url, s, 1, 2, 0);
    const t0 = Date.now();
    b.signal("SIGTERM");
    await sleep(400);
    const linesBefore = b.logs.length;
    b.signal("SIGTERM");
    const exit = await Promise.race([b.exited, sleep(20_000).then(() => undefined)]);
    const took = Date.now() - t0;
    const noticed = b.logs.slice(linesBefore).some((l) => /SIGTERM|signal/i.test(JSON.stringify(l)));
    await sleep(200);
    ctx.check(exit !== undefined && exit.code === 0, `exit ${JSON.stringify(exit)} instead of 0`);
    ctx.check(noticed, "no log line about the second signal");
    ctx.observe(`exit ${exit ? (exit.signal ?? exit.code) : "none"} after ${took} ms; notes ${sessions.map((s) => fake.notesIn(`c-s6${s}`).length).join("/")}; second signal logged: ${noticed}`);
    ctx.counts(ledger.tally(fake, await deadLetterText([], [b])));
  },
};
