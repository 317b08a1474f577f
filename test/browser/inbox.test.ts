/**
 * The live inbox in a real browser (Debian's Chromium through playwright-core), against the real
 * CLI: the demo a newcomer runs first, the page's escaping of everything a sender controls, and
 * the admin-token flow.
 * With UPDATE_SCREENSHOT=1 the first test writes the README's screenshot (docs/assets/inbox.png).
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Locator } from "playwright-core";
import { launchChromium, startCli, type Cli } from "./support.js";

const textIs = (l: Locator, text: string) => expect.poll(() => l.textContent(), { timeout: 10_000 }).toBe(text);
const textHas = (l: Locator, text: string) => expect.poll(() => l.textContent(), { timeout: 10_000 }).toContain(text);
const countIs = (l: Locator, n: number) => expect.poll(() => l.count(), { timeout: 10_000 }).toBe(n);

const HEADER = /^session_id: (\S+)\ntimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\n\[1\] /;
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1" ? fileURLToPath(new URL("../../docs/assets/inbox.png", import.meta.url)) : join(tmpdir(), "bridge-inbox.png");

let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
const clis: Cli[] = [];

/** Launched by the first test that needs it, so a missing Chromium fails each test (never a silent skip). */
async function context() {
  browser ??= await launchChromium();
  return browser.context;
}

afterAll(async () => {
  await browser?.close();
  await Promise.all(clis.map((cli) => cli.stop()));
}, 30_000);

describe("the live inbox (GET /) in Chromium", () => {
  it("serve --demo: sessions appear, Open chat posts the flush note, then a debounced note follows", async () => {
    await context();
    const cli = await startCli(["--demo"]);
    clis.push(cli);
    const page = await (await context()).newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => void d.dismiss().then(() => dialogs.push(d.message())));
    await page.goto(`${cli.url}/`);
    await expect.poll(() => page.locator("#connection").textContent(), { timeout: 15_000 }).toBe("live");

    // The demo's first user (maya) clicks through billing: her session appears, unlinked, buffering.
    const maya = page.locator("#sessions tbody tr", { hasText: "maya-" });
    await maya.waitFor({ timeout: 15_000 });
    await expect.poll(async () => Number(await maya.locator("td").nth(3).textContent()), { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await textIs(maya.locator("td").nth(2), "not linked");
    await textIs(maya.locator("td").nth(1), "thinking");

    await maya.getByRole("button", { name: /^Open chat for session maya-/ }).click();

    // The flush note: the pre-link buffer, with the note header, in a new conversation.
    const conversation = page.locator("#conversations article").first();
    const flush = conversation.locator("li.note").first();
    await flush.waitFor({ timeout: 15_000 });
    await textIs(flush.locator(".badge"), "flush note");
    const body = (await flush.locator("pre").textContent()) ?? "";
    expect(body).toMatch(HEADER);
    const sessionId = HEADER.exec(body)?.[1] ?? "";
    expect(sessionId).toMatch(/^maya-[0-9a-f]{4}$/);
    expect(body).toContain("Viewed page Dashboard");
    await textHas(maya.locator("td").nth(2), "linked");
    await countIs(maya.getByRole("button"), 0);

    // A later action of hers arrives as its own (debounced) note in the same conversation.
    const later = conversation.locator("li.note").nth(1);
    await later.waitFor({ timeout: 30_000 });
    await textIs(later.locator(".badge"), "debounced note");
    expect((await later.locator("pre").textContent()) ?? "").toMatch(new RegExp(`^session_id: ${sessionId}\\ntimestamp: `));

    // Keyboard: a second session's Open chat is reachable by focus and Enter.
    const other = page.locator("#sessions tbody tr", { hasText: "liam-" });
    await other.waitFor({ timeout: 15_000 });
    const button = other.getByRole("button", { name: /^Open chat for session liam-/ });
    await button.focus();
    await page.keyboard.press("Enter");
    await page.locator("#conversations article", { hasText: "liam-" }).locator("li.note").first().waitFor({ timeout: 15_000 });

    // For the screenshot: a few more notes of maya's.
    await conversation.locator("li.note").nth(2).waitFor({ timeout: 30_000 }).catch(() => undefined);
    await page.evaluate("document.activeElement && document.activeElement.blur()");
    mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(dialogs).toEqual([]);
    await page.close();
  }, 150_000);

  it("escapes markup in session ids, descriptions and conversation ids (no dialog, no injected element)", async () => {
    await context();
    const cli = await startCli([]);
    clis.push(cli);
    const now = Math.floor(Date.now() / 1000);
    const script = "<script>alert('xss-script')</script>";
    const img = `"><img src=x onerror="alert('xss-img')">`;
    const conversationId = `"><img src=x onerror=alert(1)>`;
    const post = (path: string, body: unknown) =>
      fetch(`${cli.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.status);
    for (const [i, sessionId] of [script, img].entries()) {
      expect(await post("/events", { type: "actions", product_id: "xss", session_id: sessionId, actions: [{ index: 0, type: "click", description: i === 0 ? img : script, timestamp_start: now }] })).toBe(202);
    }
    // The first session is linked by a webhook to a conversation whose id is markup too.
    expect(await post("/webhooks/intercom", { type: "notification_event", id: "n-1", topic: "conversation.user.created", data: { item: { type: "conversation", id: conversationId, custom_attributes: { session_id: script } } } })).toBe(200);

    const page = await (await context()).newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => void d.dismiss().then(() => dialogs.push(d.message())));
    await page.goto(`${cli.url}/`);
    await expect.poll(() => page.locator("#connection").textContent(), { timeout: 15_000 }).toBe("live");
    // The second session is linked from the page.
    const row = page.locator("#sessions tbody tr", { hasText: img });
    await row.getByRole("button", { name: /^Open chat/ }).click();
    await expect.poll(() => page.locator("li.note").count(), { timeout: 15_000 }).toBe(2);

    await textIs(page.locator("#sessions td.id", { hasText: script }), script);
    await textIs(page.locator("#sessions td.id", { hasText: img }), img);
    await textIs(page.locator("#conversations h3", { hasText: conversationId }), conversationId);
    const notes = await page.locator("li.note pre").allTextContents();
    expect(notes.some((n) => n.startsWith(`session_id: ${script}\n`) && n.endsWith(`[1] ${img}`))).toBe(true);
    expect(notes.some((n) => n.startsWith(`session_id: ${img}\n`) && n.endsWith(`[1] ${script}`))).toBe(true);

    // Nothing was parsed as markup: our one script, no image, no dialog.
    await page.waitForTimeout(500);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(1);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 90_000);
  it("with ADMIN_TOKEN, the page asks for the token (or takes it from #token=) and sends it with the feed", async () => {
    await context();
    const cli = await startCli([], { ADMIN_TOKEN: "s3cret-admin" });
    clis.push(cli);
    const page = await (await context()).newPage();
    await page.goto(`${cli.url}/`);
    await expect.poll(() => page.locator("#connection").textContent(), { timeout: 15_000 }).toBe("token needed");
    expect(await page.locator("#token-form").isVisible()).toBe(true);
    await page.getByLabel("Admin token").fill("s3cret-admin");
    await page.getByRole("button", { name: "Connect" }).click();
    await expect.poll(() => page.locator("#connection").textContent(), { timeout: 15_000 }).toBe("live");
    expect(await page.locator("#token-form").isVisible()).toBe(false);
    await page.close();

    const linked = await (await context()).newPage();
    await linked.goto(`${cli.url}/#token=s3cret-admin`);
    await expect.poll(() => linked.locator("#connection").textContent(), { timeout: 15_000 }).toBe("live");
    expect(new URL(linked.url()).hash).toBe("");
    await linked.close();
  }, 90_000);
});
