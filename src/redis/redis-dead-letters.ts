import { randomBytes } from "node:crypto";
import type { RedriveOutcome } from "../writer/delivery-engine.js";
import type { DeadLetter } from "../writer/events.js";
import { RedisUnavailableError, type RedisCommands } from "./commands.js";
import { REDRIVE, TAKE_DEAD } from "./dead-letter-scripts.js";
import type { DeliveryKeys } from "./delivery-keys.js";
import { encodeEntry } from "./entries.js";

/** How long taken letters are kept for a take re-run after a lost reply, ms. */
const TAKEN_KEEP_MS = 600_000;

/** What REDRIVE needs besides the letter: the session's scheduling arguments. */
export interface RedriveArgs {
  now: number;
  debounceMs: number;
  maxWaitMs: number;
  ttlMs: number;
}

/**
 * The shared dead-letter list in Redis (`{prefix}dead`): every instance reads, takes and re-drives
 * the same letters. Letters are written by the DEAD_LETTER outcome step (bounded by count and
 * bytes there); this class only reads and removes them.
 */
export class RedisDeadLetters {
  readonly #redis: RedisCommands;
  readonly #keys: DeliveryKeys;
  readonly #onBadEntry: (raw: string) => void;
  /** The list's length as last seen by this process. */
  count = 0;

  constructor(redis: RedisCommands, keys: DeliveryKeys, onBadEntry: (raw: string) => void) {
    this.#redis = redis;
    this.#keys = keys;
    this.#onBadEntry = onBadEntry;
  }

  async list(): Promise<DeadLetter[]> {
    const raw = (await this.#redis.sendCommand(["LRANGE", this.#keys.dead, "0", "-1"])) as string[];
    this.count = raw.length;
    return this.#parse(raw).map(([letter]) => letter);
  }

  /**
   * Every letter, removed from the shared list in the same atomic step. A take whose reply is
   * lost is re-run with the same id and gets the same letters: taken letters are never lost.
   */
  async take(): Promise<DeadLetter[]> {
    const taken = this.#keys.taken(randomBytes(12).toString("base64url"));
    const keys = [this.#keys.dead, this.#keys.deadBytes, taken];
    let raw: string[] | undefined;
    for (let attempt = 1; raw === undefined; attempt++) {
      try {
        raw = (await TAKE_DEAD.run(this.#redis, keys, [TAKEN_KEEP_MS])) as string[];
      } catch (error) {
        if (!(error instanceof RedisUnavailableError) || attempt >= 4) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
    this.count = 0;
    // Best effort: the copy expires on its own.
    this.#redis.sendCommand(["UNLINK", taken]).catch(() => undefined);
    return this.#parse(raw).map(([letter]) => letter);
  }

  /**
   * Re-drives the letters named by `ids` (all when omitted), one atomic step per letter: a letter
   * re-driven by two instances at once is queued once. A letter whose session has no conversation
   * now stays in the list (`skipped`). Calls `onQueued` for each queued one with the time its
   * session is due.
   */
  async redrive(
    ids: readonly string[] | undefined,
    args: RedriveArgs,
    onQueued: (sessionId: string, at: number) => void,
  ): Promise<RedriveOutcome> {
    const raw = (await this.#redis.sendCommand(["LRANGE", this.#keys.dead, "0", "-1"])) as string[];
    const wanted = ids === undefined ? null : new Set(ids);
    const found = new Set<string>();
    const outcome: RedriveOutcome = { requeued: 0, actions: 0, missing: [], skipped: [] };
    for (const [letter, json] of this.#parse(raw)) {
      if (wanted !== null && !wanted.has(letter.id)) continue;
      found.add(letter.id);
      const argv = [letter.sessionId, args.now, args.debounceMs, args.maxWaitMs, args.ttlMs, json, letter.kind === "summary" ? "summary" : "actions"];
      if (letter.kind === "summary") argv.push(letter.body);
      else for (const action of letter.actions) argv.push(encodeEntry(action));
      const reply = (await REDRIVE.run(this.#redis, this.#keys.session(letter.sessionId), argv)) as number[];
      if (Number(reply[0]) === 2) {
        outcome.skipped.push(letter.id);
        continue;
      }
      if (Number(reply[0]) !== 1) {
        outcome.missing.push(letter.id);
        continue;
      }
      this.count = Number(reply[2]);
      outcome.requeued++;
      outcome.actions += letter.actions.length;
      onQueued(letter.sessionId, Number(reply[1]));
    }
    if (wanted !== null) for (const id of wanted) if (!found.has(id)) outcome.missing.push(id);
    return outcome;
  }

  #parse(raw: readonly string[]): Array<[DeadLetter, string]> {
    const out: Array<[DeadLetter, string]> = [];
    for (const json of raw) {
      try {
        out.push([JSON.parse(json) as DeadLetter, json]);
      } catch {
        this.#onBadEntry(json);
      }
    }
    return out;
  }
}
