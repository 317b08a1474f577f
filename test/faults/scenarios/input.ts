/** Faults 9 and 11, and issue 8 items 1, 3 and 7: hostile or odd input at the service boundary. */
import { connect } from "node:net";
import { startFakeIntercom, startFakeZendesk } from "../../support/fake-platforms.js";
import { tryStart } from "../harness/bridge.js";
import { deadLetterText, Ledger } from "../harness/ledger.js";
import type { Scenario } from "../harness/row.js";
import { actionsBody, getText, intercomEnv, intercomWebhook, metric, post, SECRETS, sendEvents, sign, sleep, zendeskEnv, zendeskWebhook } from "../harness/send.js";
import { bridge, platform, send, sendEach, settle } from "./helpers.js";

const intercom = () => startFakeIntercom({ token: SECRETS.intercomToken, adminId: SECRETS.intercomAdmin });

export const malformed: Scenario = {
  id: "9",
  fault: "malformed input: non-JSON, wrong types, huge and deep bodies, __proto__, bad UTF-8, wrong content type, HTML in text",
  expected: "each refused with its 4xx (400/413/415), never a 5xx or a crash, nothing of it delivered; valid odd input accepted; HTML escaped in the Intercom note",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("f9");
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url, { MAX_BODY_BYTES: "262144" }));
    await intercomWebhook(b.url, { id: "n-f9", conversationId: "c-f9", sessionId: "s1" });
    ledger.target("s1", "c-f9");
    const bad = (n: number) => ledger.token("bad", n);
    const ok = ledger.action("s1", 1);
    const valid = (fields: Record<string, unknown>) => JSON.stringify({ type: "actions", product_id: "faults", session_id: "s1", actions: [ok], ...fields });
    const deep = `{"type":"actions","session_id":"s1","actions":[${"[".repeat(200)}"${bad(9)}"${"]".repeat(200)}]}`;
    const cases: Array<{ name: string; body: string | Buffer; want: number | "4xx"; headers?: Record<string, string> }> = [
      { name: "non-JSON", body: `not json ${bad(1)}`, want: 400 },
      { name: "actions a string", body: valid({ actions: `${bad(2)}` }), want: 400 },
      { name: "actions a number", body: valid({ actions: 42 }), want: 400 },
      { name: "actions an object", body: valid({ actions: { 0: { index: 0, description: bad(4) } } }), want: 400 },
      { name: "actions null", body: valid({ actions: null }), want: 400 },
      { name: "count an object", body: valid({ actions: [{ ...ok, description: bad(6) }], count: { n: 1 } }), want: 400 },
      { name: "forwarded_at a boolean", body: valid({ actions: [{ ...ok, description: bad(7) }], forwarded_at: true }), want: 400 },
      { name: "user_id an object", body: valid({ actions: [{ ...ok, description: bad(8) }], user_id: { id: 1 } }), want: 400 },
      { name: "deep nesting", body: deep, want: "4xx" },
      { name: "session_id {__proto__}", body: `{"type":"actions","session_id":{"__proto__":{"x":1}},"actions":[{"index":0,"description":"${bad(10)}"}]}`, want: 400 },
      { name: "over MAX_BODY_BYTES", body: valid({ actions: [{ ...ok, description: `${bad(11)} ${"x".repeat(300_000)}` }] }), want: 413 },
      { name: "invalid UTF-8", body: Buffer.concat([Buffer.from(`{"type":"actions","session_id":"s1","actions":[{"description":"${bad(12)} `), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]), want: 400 },
      { name: "text/plain", body: valid({ actions: [{ ...ok, description: bad(13) }] }), want: 415, headers: { "content-type": "text/plain" } },
    ];
    const outcomes: string[] = [];
    let wrong = 0;
    for (const c of cases) {
      const sent = await sendEvents(b.url, c.body, { retry: false, headers: c.headers ?? {} });
      ledger.record(ledger.tokensIn(c.body.toString("utf8").slice(0, 2000)).map((t) => ({ description: t })), sent);
      const good = c.want === "4xx" ? sent.status >= 400 && sent.status < 500 : sent.status === c.want;
      if (!good) {
        wrong++;
        outcomes.push(`${c.name}: ${sent.status || "no answer"} (want ${c.want})`);
      }
    }
    // Valid but odd: a top-level __proto__ key, a numeric-string index, HTML and quotes in text.
    const proto = `{"__proto__":{"polluted":true},"type":"actions","product_id":"faults","session_id":"s1","actions":[${JSON.stringify(ledger.action("s1", 2))}]}`;
    const protoSent = await sendEvents(b.url, proto);
    ledger.record([ledger.action("s1", 2)], protoSent);
    const lenient = { ...ledger.action("s1", 3), index: "3", title: undefined };
    const lenientSent = await send(ledger, b.url, "s1", [lenient]);
    // SPEC §2: a non-numeric string where a number belongs reads as 0 (lenient); a 400 would do
    // too. Either way nothing may vanish: accepted means delivered, refused means not.
    const nanCount = await send(ledger, b.url, "s1", [ledger.action("s1", 5)], { retry: false }, { count: "many", forwarded_at: "yesterday" });
    const html = ledger.action("s1", 4, Date.now() / 1000, `<img src=x onerror=alert(1)> & "quoted" <b>bold</b>`);
    const htmlSent = await send(ledger, b.url, "s1", [html]);
    await send(ledger, b.url, "s1", [ok]);
    await settle(ledger, fake, 10_000, 500);
    const bodies = fake.notesIn("c-f9").map((n) => n.body).join("\n");
    const escaped = bodies.includes("&lt;img src=x onerror=alert(1)&gt;") && !bodies.includes("<img") && !bodies.includes("<b>");
    const alive = (await getText(`${b.url}/healthz`)).status === 200 && b.child.exitCode === null;
    const fiveHundreds = metric((await getText(`${b.url}/metrics`)).text, "bridge_requests_total", /status="5\d\d"/);
    ctx.check(wrong === 0, `${wrong} of ${cases.length} bad inputs not refused as expected: ${outcomes.join("; ")}`);
    ctx.check(protoSent.status === 202 || (protoSent.status >= 400 && protoSent.status < 500), `top-level __proto__ answered ${protoSent.status}`);
    ctx.check(nanCount.status === 202 || nanCount.status === 400, `count "many" answered ${nanCount.status}`);
    ctx.check(lenientSent.status === 202, `a numeric-string index (lenient) answered ${lenientSent.status}`);
    ctx.check(htmlSent.status === 202 && escaped, "HTML in action text not escaped in the Intercom note");
    ctx.check(alive && fiveHundreds === 0, `bridge alive: ${alive}, 5xx answers: ${fiveHundreds}`);
    ctx.observe(`${cases.length - wrong}/${cases.length} bad inputs refused as expected${outcomes.length ? ` (${outcomes.join("; ")})` : ""}; __proto__ top-level ${protoSent.status}; count "many" ${nanCount.status}; HTML escaped: ${escaped}; alive: ${alive}`);
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};

export const signatures: Scenario = {
  id: "11",
  fault: "invalid signatures: missing, wrong secret, wrong algorithm prefix, wrong length, stale Zendesk timestamp",
  expected: "401 for each on /events, /webhooks/intercom, /webhooks/zendesk, /links; nothing enqueued, no link made",
  timeoutMs: 40_000,
  async run(ctx) {
    const ledger = new Ledger("f11");
    const ic = await platform(ctx, intercom());
    const zd = await platform(ctx, startFakeZendesk({ email: SECRETS.zendeskEmail, apiToken: SECRETS.zendeskToken }));
    const bi = await bridge(ctx, intercomEnv(ic.url));
    const bz = await bridge(ctx, zendeskEnv(zd.url));
    const statuses: Array<[string, number]> = [];
    const expect401 = async (name: string, url: string, body: string, headers: Record<string, string>) => {
      const sent = await post(url, body, { retry: false, headers });
      ledger.record(ledger.tokensIn(body).map((t) => ({ description: t })), sent);
      statuses.push([name, sent.status]);
    };
    for (const [i, b] of [bi, bz].entries()) {
      const body = actionsBody("s1", [ledger.action("forged", i * 10 + 1)]);
      const good = sign.connector(body);
      await expect401("events: missing", `${b.url}/events`, body, {});
      await expect401("events: wrong secret", `${b.url}/events`, body, { "x-connector-signature": sign.connector(body, "not-the-secret") });
      await expect401("events: sha1= prefix", `${b.url}/events`, body, { "x-connector-signature": good.replace("sha256=", "sha1=") });
      await expect401("events: truncated", `${b.url}/events`, body, { "x-connector-signature": good.slice(0, 40) });
      await expect401("events: extended", `${b.url}/events`, body, { "x-connector-signature": `${good}00` });
      await expect401("links: wrong token", `${b.url}/links`, JSON.stringify({ session_id: "s1", conversation_id: "c-evil" }), { authorization: "Bearer nope" });
    }
    const hook = JSON.stringify({ type: "notification_event", id: "n-evil", topic: "conversation.user.created", data: { item: { id: "c-evil", custom_attributes: { session_id: "s1" } } } });
    await expect401("intercom: missing", `${bi.url}/webhooks/intercom`, hook, {});
    await expect401("intercom: wrong secret", `${bi.url}/webhooks/intercom`, hook, { "x-hub-signature": sign.intercom(hook, "nope") });
    await expect401("intercom: sha256= prefix", `${bi.url}/webhooks/intercom`, hook, { "x-hub-signature": sign.intercom(hook).replace("sha1=", "sha256=") });
    await expect401("intercom: truncated", `${bi.url}/webhooks/intercom`, hook, { "x-hub-signature": sign.intercom(hook).slice(0, 30) });
    const zhook = JSON.stringify({ ticket_id: 666, session_id: "s1" });
    const now = new Date().toISOString();
    const stale = new Date(Date.now() - 10 * 60_000).toISOString();
    await expect401("zendesk: missing", `${bz.url}/webhooks/zendesk`, zhook, {});
    await expect401("zendesk: wrong secret", `${bz.url}/webhooks/zendesk`, zhook, { "x-zendesk-webhook-signature": sign.zendesk(zhook, now, "nope"), "x-zendesk-webhook-signature-timestamp": now });
    await expect401("zendesk: stale", `${bz.url}/webhooks/zendesk`, zhook, { "x-zendesk-webhook-signature": sign.zendesk(zhook, stale), "x-zendesk-webhook-signature-timestamp": stale });
    await expect401("zendesk: truncated", `${bz.url}/webhooks/zendesk`, zhook, { "x-zendesk-webhook-signature": sign.zendesk(zhook, now).slice(0, 20), "x-zendesk-webhook-signature-timestamp": now });
    // The genuine flow afterwards: signed actions, a signed link.
    await sendEach(ledger, bi.url, "s1", 1, 3, 0);
    await sendEach(ledger, bz.url, "s2", 1, 3, 0);
    await intercomWebhook(bi.url, { id: "n-f11", conversationId: "c-f11", sessionId: "s1" });
    await zendeskWebhook(bz.url, { ticketId: 1101, sessionId: "s2" });
    ledger.target("s1", "c-f11");
    ledger.target("s2", "1101");
    await settle(ledger, [ic, zd], 10_000, 800);
    const wrong = statuses.filter(([, s]) => s !== 401);
    const evil = ic.notesIn("c-evil").length + zd.notesIn("666").length;
    ctx.check(wrong.length === 0, `not 401: ${wrong.map(([n, s]) => `${n} → ${s}`).join("; ")}`);
    ctx.check(evil === 0, `${evil} note(s) in the forged conversations`);
    ctx.observe(`${statuses.length - wrong.length}/${statuses.length} forged requests got 401; notes in forged conversations: ${evil}`);
    ctx.counts(ledger.tally([ic, zd], await deadLetterText([bi, bz])));
  },
};

export const unsignedWebhook: Scenario = {
  id: "S1",
  fault: "issue 8.1: unsigned webhooks outside inbox mode",
  expected: "Intercom setup: unsigned POST /webhooks/zendesk refused (route not mounted), cannot steal a session; a mounted route without secret refuses to start unless ALLOW_UNSIGNED=true; inbox on loopback starts",
  timeoutMs: 50_000,
  async run(ctx) {
    const ledger = new Ledger("s1x");
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url));
    ledger.target("v", "c-victim");
    await sendEach(ledger, b.url, "v", 1, 3, 0);
    const attack = await post(`${b.url}/webhooks/zendesk`, JSON.stringify({ ticket_id: "c-attacker", session_id: "v" }), { retry: false });
    await intercomWebhook(b.url, { id: "n-victim", conversationId: "c-victim", sessionId: "v", topic: "conversation.user.replied" });
    await sleep(300);
    await sendEach(ledger, b.url, "v", 4, 6, 0);
    await settle(ledger, fake, 8_000, 800);
    const stolen = fake.notesIn("c-attacker").length;
    ctx.check(attack.status === 404 || attack.status === 401, `unsigned POST /webhooks/zendesk answered ${attack.status}`);
    ctx.check(stolen === 0, `${stolen} note(s) went to the attacker's conversation`);
    const { INTERCOM_CLIENT_SECRET: _unused, ...noSecret } = intercomEnv(fake.url);
    const refused = await tryStart(noSecret);
    const allowed = await tryStart({ ...noSecret, ALLOW_UNSIGNED: "true" });
    const loud = allowed.logs.some((l) => /unsigned|ALLOW_UNSIGNED/i.test(JSON.stringify(l)) && l.level !== "debug");
    const inbox = await tryStart({ DESTINATION: "inbox", HOST: "127.0.0.1" });
    ctx.check(!refused.listened && refused.exit !== undefined && refused.exit.code !== 0, `DESTINATION=intercom without INTERCOM_CLIENT_SECRET ${refused.listened ? "started" : `exited ${JSON.stringify(refused.exit)}`}`);
    ctx.check(allowed.listened && loud, `with ALLOW_UNSIGNED=true: started ${allowed.listened}, logged loudly ${loud}`);
    ctx.check(inbox.listened, "DESTINATION=inbox on loopback did not start");
    ctx.observe(
      `unsigned zendesk webhook → ${attack.status}; attacker notes ${stolen}; no secret → ${refused.listened ? "started" : `exit ${refused.exit?.code}`}; ALLOW_UNSIGNED → ${allowed.listened ? "started" : "refused"}; inbox → ${inbox.listened ? "started" : "refused"}`,
    );
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};

export const largeValidBatch: Scenario = {
  id: "S3",
  fault: "issue 8.3: a signed ~800 KiB batch of 20,000 compact actions (under MAX_BODY_BYTES, 1 MiB)",
  expected: "202 and every action delivered (in split notes)",
  timeoutMs: 90_000,
  async run(ctx) {
    const ledger = new Ledger("s3");
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url));
    await intercomWebhook(b.url, { id: "n-s3", conversationId: "c-s3", sessionId: "a" });
    ledger.target("a", "c-s3");
    const actions = Array.from({ length: 20_000 }, (_, i) => ({ index: i + 1, description: ledger.token("a", i + 1) }));
    const body = actionsBody("a", actions);
    const sent = await sendEvents(b.url, body, { retry: false, requestTimeoutMs: 30_000 });
    ledger.record(actions, sent);
    ctx.check(sent.status === 202, `answered ${sent.status}: ${JSON.stringify(sent.body).slice(0, 160)}`);
    if (sent.status === 202) await settle(ledger, fake, 60_000, 500);
    else ledger.record(actions, { status: 202 }); // a valid batch refused is lost: count it so
    ctx.observe(`${(Buffer.byteLength(body) / 1024).toFixed(0)} KiB → ${sent.status}; ${fake.notesIn("c-s3").length} notes`);
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};

export const clientAbort: Scenario = {
  id: "S7",
  fault: "issue 8.7: clients that disconnect mid-upload",
  expected: "counted as client aborts, never a 5xx in metrics or an error log line; nothing half-read enqueued; later batches delivered",
  timeoutMs: 30_000,
  async run(ctx) {
    const ledger = new Ledger("s7");
    const fake = await platform(ctx, intercom());
    const b = await bridge(ctx, intercomEnv(fake.url));
    await intercomWebhook(b.url, { id: "n-s7", conversationId: "c-s7", sessionId: "a" });
    ledger.target("a", "c-s7");
    const { port } = new URL(b.url);
    for (let i = 1; i <= 3; i++) {
      const body = actionsBody("a", [ledger.action("aborted", i)]);
      ledger.record([ledger.action("aborted", i)], { status: 499 });
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.write(`POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Connector-Signature: ${sign.connector(body)}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 40)}`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 150);
        });
        socket.on("error", () => resolve());
      });
    }
    await sleep(500);
    await sendEach(ledger, b.url, "a", 1, 3, 0);
    await settle(ledger, fake, 8_000, 500);
    const metrics = (await getText(`${b.url}/metrics`)).text;
    const fiveHundreds = metric(metrics, "bridge_requests_total", /status="5\d\d"/);
    const errors = b.logs.filter((l) => l.level === "error");
    ctx.check(fiveHundreds === 0, `${fiveHundreds} aborted upload(s) counted as 5xx in /metrics`);
    ctx.check(errors.length === 0, `error log line(s): ${errors.map((l) => String(l.message)).join("; ")}`);
    ctx.check(b.child.exitCode === null, "the bridge exited");
    ctx.observe(`3 aborted uploads: 5xx in metrics ${fiveHundreds}, error lines ${errors.length}; abort metric present: ${/abort/i.test(metrics)}`);
    ctx.counts(ledger.tally(fake, await deadLetterText([b])));
  },
};
