/**
 * Accounting for one scenario. Every action carries a unique token in its description
 * (`<tag>-<session>-<n>`); the ledger remembers which tokens the bridge accepted and which it
 * refused, then reads the stand-in platform's notes and the dead letters to count what was
 * delivered, duplicated, dead-lettered (visibly) and lost.
 */
import type { FakePlatform } from "../../support/fake-platforms.js";
import type { Bridge } from "./bridge.js";
import { getText, SECRETS, type Sent, type WireAction } from "./send.js";

export interface Tally {
  /** Distinct actions the bridge accepted. */
  sent: number;
  /** Accepted actions found in at least one note of their expected conversation. */
  delivered: number;
  /** Extra copies of accepted actions beyond the first. */
  duplicated: number;
  /** Accepted, undelivered actions that are visible in a dead letter. */
  deadLettered: number;
  /** Accepted actions neither delivered nor visibly dead-lettered. */
  lost: number;
  /** Accepted actions found in a conversation they were not meant for. */
  misdelivered: number;
  /** Refused actions (4xx/401) that reached a platform anyway. */
  leaked: number;
  /** The first few lost tokens, to say which. */
  lostTokens: string[];
}

export class Ledger {
  readonly tag: string;
  readonly #accepted = new Map<string, string>();
  readonly #refused = new Set<string>();
  /** session → the conversation its actions must land in (absent: any). */
  readonly #target = new Map<string, string>();
  /** token → its conversation, overriding the session's. */
  readonly #tokenTarget = new Map<string, string>();
  /** Accepted tokens the documented policy does not deliver (e.g. trimmed by the pre-link window). */
  readonly #exempt = new Set<string>();
  readonly #pattern: RegExp;

  constructor(tag: string) {
    if (!/^[a-z0-9]+$/.test(tag)) throw new TypeError(`ledger tag must be [a-z0-9]+, got ${tag}`);
    this.tag = tag;
    this.#pattern = new RegExp(`${tag}-[a-z0-9]+-\\d{5}`, "g");
  }

  token(session: string, n: number): string {
    return `${this.tag}-${session}-${String(n).padStart(5, "0")}`;
  }

  /** Wire action `n` of `session` (its `index` is `n`); `ts` in Unix seconds, default now. */
  action(session: string, n: number, ts: number = Date.now() / 1000, text = "clicked"): WireAction {
    return {
      index: n,
      type: "click",
      title: "",
      description: `${this.token(session, n)} ${text}`,
      canonical_url: "https://app.test/page",
      raw_url: "https://app.test/page",
      timestamp_start: ts,
      timestamp_end: ts,
    };
  }

  /** Records the outcome of sending `actions` (2xx: accepted; otherwise refused). */
  record(actions: readonly { description?: unknown }[], sent: Pick<Sent, "status">): void {
    for (const token of this.tokensIn(JSON.stringify(actions.map((a) => a.description)))) {
      if (sent.status >= 200 && sent.status < 300) {
        this.#refused.delete(token);
        this.#accepted.set(token, token.split("-")[1] ?? "");
      } else if (!this.#accepted.has(token)) this.#refused.add(token);
    }
  }

  /** The conversation `session`'s actions must reach. */
  target(session: string, conversationId: string): void {
    this.#target.set(session, conversationId);
  }

  /** The conversation one action must reach (overrides its session's). */
  targetToken(token: string, conversationId: string): void {
    this.#tokenTarget.set(token, conversationId);
  }

  /** Takes an accepted action out of the count: the documented policy does not deliver it. */
  exempt(token: string): void {
    this.#exempt.add(token);
  }

  get acceptedCount(): number {
    return [...this.#accepted.keys()].filter((t) => !this.#exempt.has(t)).length;
  }

  /** Occurrences of each accepted token over all notes (any conversation). */
  occurrences(fakes: FakePlatform | FakePlatform[]): Map<string, number> {
    const seen = new Map<string, number>();
    for (const fake of Array.isArray(fakes) ? fakes : [fakes]) {
      for (const notes of this.notes(fake).values()) for (const token of notes.flat()) seen.set(token, (seen.get(token) ?? 0) + 1);
    }
    return seen;
  }

  tokensIn(text: string): string[] {
    return text.match(this.#pattern) ?? [];
  }

  /** Per conversation, the tokens of each note in order. */
  notes(fake: FakePlatform): Map<string, string[][]> {
    const out = new Map<string, string[][]>();
    for (const [conversation, notes] of fake.notes) out.set(conversation, notes.map((n) => this.tokensIn(n.body)));
    return out;
  }

  tally(fakes: FakePlatform | FakePlatform[], deadLetterText = ""): Tally {
    const seen = new Map<string, number>();
    let misdelivered = 0;
    let leaked = 0;
    for (const fake of Array.isArray(fakes) ? fakes : [fakes]) {
      for (const [conversation, notes] of this.notes(fake)) {
        for (const token of notes.flat()) {
          if (this.#refused.has(token)) leaked++;
          const session = this.#accepted.get(token);
          if (session === undefined) continue;
          if (this.#exempt.has(token)) continue;
          const target = this.#tokenTarget.get(token) ?? this.#target.get(session);
          if (target !== undefined && target !== conversation) {
            misdelivered++;
            continue;
          }
          seen.set(token, (seen.get(token) ?? 0) + 1);
        }
      }
    }
    const dead = new Set(this.tokensIn(deadLetterText));
    let delivered = 0;
    let duplicated = 0;
    let deadLettered = 0;
    const lostTokens: string[] = [];
    for (const token of this.#accepted.keys()) {
      if (this.#exempt.has(token)) continue;
      const count = seen.get(token) ?? 0;
      if (count > 0) delivered++;
      else if (dead.has(token)) deadLettered++;
      else if (lostTokens.length < 5) lostTokens.push(token);
      duplicated += Math.max(0, count - 1);
    }
    const sent = this.acceptedCount;
    return { sent, delivered, duplicated, deadLettered, lost: sent - delivered - deadLettered, misdelivered, leaked, lostTokens };
  }
}

/**
 * Everything a bridge shows of its dead letters: the `note dead-lettered` log lines (warn, with
 * the actions' descriptions) and `GET /dead-letters` (Bearer ADMIN_TOKEN) where it exists.
 */
export async function deadLetterText(bridges: Bridge[], logsOf: Bridge[] = bridges): Promise<string> {
  const parts: string[] = [];
  for (const bridge of logsOf) parts.push(JSON.stringify(bridge.find(/dead.?letter/i)));
  for (const bridge of bridges) {
    const { status, text } = await getText(`${bridge.url}/dead-letters`, { authorization: `Bearer ${SECRETS.admin}` });
    if (status === 200) parts.push(text);
  }
  return parts.join("\n");
}
