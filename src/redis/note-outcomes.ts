import type { DeliveryHost } from "../writer/delivery-engine.js";
import type { DeadLetter, NoteKind } from "../writer/events.js";
import type { RedisCommands } from "./commands.js";
import type { DeliveryKeys } from "./delivery-keys.js";
import { decodeEntries } from "./entries.js";
import { CONFIRM, DEAD_LETTER, RETRY } from "./outcome-scripts.js";
import type { RedisDeadLetters } from "./redis-dead-letters.js";

/** A claimed note: the claim's holder posts it, then records exactly one outcome. */
export interface Claim {
  /** This claim's id: the lease holder's name, and how outcome steps recognise a re-run. */
  id: string;
  kind: NoteKind;
  conversationId: string;
  attempt: number;
  /** The note's id, its idempotency key: the same on every retry of a frozen note. */
  noteId: string;
  /** The note's first try, epoch ms. */
  heldSince: number;
  descriptions: string[];
  starts: number[];
  /** Smallest and largest action sequence number of the note (0: unknown). */
  lo: number;
  hi: number;
  /** A summary note's body (kind "summary"), fixed when it was queued. */
  summaryBody?: string;
}

/** CLAIM's reply {1, kind, conv, attempt, noteId, heldSince, entries…} as a claim. */
export function parseClaim(claimId: string, reply: readonly unknown[]): Claim {
  const common = { id: claimId, conversationId: String(reply[2]), attempt: Number(reply[3]), noteId: String(reply[4]), heldSince: Number(reply[5]) };
  if (reply[1] === "summary") {
    const summary = JSON.parse(String(reply[6])) as { body: string };
    return { ...common, kind: "summary", descriptions: [], starts: [], lo: -1, hi: -1, summaryBody: summary.body };
  }
  const { descriptions, starts, lo, hi } = decodeEntries(reply.slice(6) as string[]);
  return {
    lo,
    hi,
    id: claimId,
    kind: reply[1] === "flush" ? "flush" : "debounced",
    conversationId: String(reply[2]),
    attempt: Number(reply[3]),
    noteId: String(reply[4]),
    heldSince: Number(reply[5]),
    descriptions,
    starts,
  };
}

/** What the outcome steps need from the engine. */
export interface OutcomeContext {
  readonly host: DeliveryHost;
  readonly redis: RedisCommands;
  readonly keys: DeliveryKeys;
  readonly ttlMs: number;
  readonly deadLetters: RedisDeadLetters;
  /** Runs an idempotent step until its outcome is known; the session's note is then settled. */
  settle<T>(sessionId: string, step: () => Promise<T>): Promise<T>;
  /** Wakes this process for the session at `at` (epoch ms; -1: never). */
  schedule(sessionId: string, at: number): void;
  /** The session has redactions queued (a summary was confirmed). */
  redactionsQueued?(sessionId: string): void;
}

/** Records a delivered note (CONFIRM), then counts and emits it. */
export async function confirmNote(ctx: OutcomeContext, sessionId: string, claim: Claim, partId: string | null, durationMs: number): Promise<void> {
  const { host } = ctx;
  const o = host.options;
  const keys = ctx.keys.session(sessionId);
  // The platform has the note: keep trying to record that until the outcome is known.
  const args = [sessionId, claim.id, o.now(), o.postLinkDebounceMs, o.maxWaitMs, partId ?? "", ctx.ttlMs, claim.conversationId, claim.lo, claim.hi];
  const reply = (await ctx.settle(sessionId, () => CONFIRM.run(ctx.redis, keys, args))) as [number, number, number];
  if (Number(reply[0]) !== 1) {
    host.log("warn", "lease lost before the note was confirmed; it may be delivered twice", { sessionId, idempotencyKey: claim.noteId });
    return;
  }
  if (claim.kind === "summary") {
    host.stats.summariesPosted++;
    host.events.emit("summary-delivered", { sessionId, conversationId: claim.conversationId, partId, redactions: Number(reply[2]), attempt: claim.attempt });
    if (Number(reply[2]) > 0) ctx.redactionsQueued?.(sessionId);
    ctx.schedule(sessionId, Number(reply[1]));
    return;
  }
  host.stats.notesPosted++;
  host.stats.actionsDelivered += claim.descriptions.length;
  if (host.events.has("delivered")) {
    host.events.emit("delivered", {
      sessionId, conversationId: claim.conversationId, partId, kind: claim.kind, actionCount: claim.descriptions.length, attempt: claim.attempt, durationMs,
    });
  }
  ctx.schedule(sessionId, Number(reply[1]));
}

/**
 * Records a failed post: a retry (RETRY; the note frozen when its call may have landed) or a dead
 * letter (DEAD_LETTER; unlinking the session when its conversation is gone), then counts and emits.
 */
export async function recordFailure(ctx: OutcomeContext, sessionId: string, claim: Claim, body: string, error: unknown, slow: boolean): Promise<void> {
  const { host } = ctx;
  const o = host.options;
  const decision = host.decide(error, claim.attempt, claim.heldSince);
  const held = decision.kind === "retry" && !decision.counted;
  if (held) host.stats.throttled++;
  else host.stats.postFailures++;
  const keys = ctx.keys.session(sessionId);
  const now = o.now();
  if (decision.kind === "retry") {
    // A call that may have landed freezes the note: the retry posts the same body with the same key.
    // A summary's body is fixed: it is always retried as it is.
    const frozen = claim.kind === "summary" || (!held && (slow || !hasStatus(error)));
    const args = [sessionId, claim.id, now, o.postLinkDebounceMs, o.maxWaitMs, now + decision.delayMs, decision.counted ? 1 : 0, frozen ? 1 : 0, ctx.ttlMs];
    const reply = (await ctx.settle(sessionId, () => RETRY.run(ctx.redis, keys, args))) as number[];
    if (Number(reply[0]) !== 1) return host.log("warn", "lease lost before a failed post was recorded", { sessionId });
    if (decision.counted) host.stats.retries++;
    host.events.emit("retrying", { sessionId, conversationId: claim.conversationId, kind: claim.kind, attempt: claim.attempt, delayMs: decision.delayMs, error });
    ctx.schedule(sessionId, Number(reply[1]));
    return;
  }
  const letter: DeadLetter = {
    id: claim.id,
    sessionId,
    conversationId: claim.conversationId,
    reason: decision.reason,
    error: error instanceof Error ? error.message : String(error),
    attempts: claim.attempt,
    kind: claim.kind,
    actions: claim.descriptions.map((description, i) => ({ description, timestamp_start: claim.starts[i] as number })),
    body,
    at: now,
  };
  const gone = decision.reason === "conversation_gone";
  const args = [
    sessionId, claim.id, now, o.postLinkDebounceMs, o.maxWaitMs, JSON.stringify(letter), o.maxDeadLetters, o.maxDeadLetterBytes,
    gone ? 1 : 0, (now - o.preLinkWindowMs) / 1000, o.preLinkWindowMs, ctx.ttlMs,
  ];
  const reply = (await ctx.settle(sessionId, () => DEAD_LETTER.run(ctx.redis, keys, args))) as number[];
  if (Number(reply[0]) !== 1) return host.log("warn", "lease lost before a dead letter was recorded", { sessionId, letter: letter.id });
  host.stats.deadLettersEvicted += Number(reply[2]);
  ctx.deadLetters.count = Number(reply[5]);
  // Reported once, by the instance that wrote it (a re-run after a lost reply answers the same).
  host.reportDeadLetter(letter);
  if (claim.kind === "summary") {
    host.stats.summariesFailed++;
    host.events.emit("summary-failed", { sessionId, conversationId: claim.conversationId, reason: letter.reason, error: letter.error, snapshot: Number(reply[6]) });
  }
  if (gone) {
    host.stats.actionsTrimmed += Number(reply[4]);
    host.stats.unlinked++;
    host.events.emit("unlinked", {
      sessionId, conversationId: claim.conversationId, reason: "conversation_gone", error: letter.error, bufferedActions: Number(reply[3]),
    });
  }
  ctx.schedule(sessionId, Number(reply[1]));
}

/** Whether the platform answered (an error with a numeric `status`): then the call did not land. */
function hasStatus(error: unknown): boolean {
  return error !== null && typeof error === "object" && typeof (error as { status?: unknown }).status === "number";
}
