/** The fault suite's accounting, checked on its own: a wrong count would make every row wrong. */
import { describe, expect, it } from "vitest";
import type { FakePlatform } from "../../support/fake-platforms.js";
import { Ledger } from "./ledger.js";

function platformWith(notes: Record<string, string[]>): FakePlatform {
  const map = new Map(Object.entries(notes).map(([c, bodies]) => [c, bodies.map((body, i) => ({ id: String(i), body, at: i, redacted: false }))]));
  return { notes: map } as unknown as FakePlatform;
}

describe("Ledger", () => {
  it("counts delivered, duplicated, dead-lettered, lost, misdelivered and leaked actions", () => {
    const ledger = new Ledger("t");
    const a = [1, 2, 3, 4, 5].map((n) => ledger.action("a", n));
    ledger.record(a, { status: 202 });
    ledger.record([ledger.action("x", 1)], { status: 401 });
    ledger.target("a", "c-1");
    const fake = platformWith({
      "c-1": [`[1] ${ledger.token("a", 1)} clicked\n[2] ${ledger.token("a", 2)} clicked`, `[1] ${ledger.token("a", 2)} clicked`],
      "c-evil": [`[1] ${ledger.token("a", 3)} clicked\n[2] ${ledger.token("x", 1)} clicked`],
    });
    const tally = ledger.tally(fake, JSON.stringify({ actions: [{ description: `${ledger.token("a", 4)} clicked` }] }));
    expect(tally).toEqual({ sent: 5, delivered: 2, duplicated: 1, deadLettered: 1, lost: 2, misdelivered: 1, leaked: 1, lostTokens: [ledger.token("a", 3), ledger.token("a", 5)] });
  });

  it("a refused batch accepted on a retry counts as accepted; exempt actions leave the counts", () => {
    const ledger = new Ledger("u");
    const a = ledger.action("a", 1);
    ledger.record([a], { status: 503 });
    ledger.record([a], { status: 202 });
    ledger.record([ledger.action("a", 2)], { status: 202 });
    ledger.exempt(ledger.token("a", 2));
    expect(ledger.tally(platformWith({ c: [a.description] }))).toMatchObject({ sent: 1, delivered: 1, lost: 0, leaked: 0 });
  });

  it("HTML escaping around a token does not hide it", () => {
    const ledger = new Ledger("v");
    const a = ledger.action("a", 7, 1, "<b>x</b>");
    ledger.record([a], { status: 202 });
    expect(ledger.tally(platformWith({ c: [`<p>[1] ${ledger.token("a", 7)} &lt;b&gt;x&lt;/b&gt;</p>`] })).delivered).toBe(1);
  });
});
