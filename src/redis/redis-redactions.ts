import { randomBytes } from "node:crypto";
import type { SummaryOutcome, SummaryRequest } from "../writer/delivery-engine.js";
import { RedisUnavailableError } from "./commands.js";
import type { OutcomeContext } from "./note-outcomes.js";
import { REDACT_CLAIM, REDACT_DONE, SUMMARIZE } from "./summary-scripts.js";

/** Queues a summary note and takes its snapshot (SUMMARIZE). */
export async function queueSummary(ctx: OutcomeContext, request: SummaryRequest): Promise<SummaryOutcome> {
  const { host } = ctx;
  const o = host.options;
  const { sessionId, coverage } = request;
  const ranges = "sequences" in coverage ? coverage.sequences.map((r) => `${Math.floor(r.from)}-${Math.floor(r.to)}`).join(",") : "";
  const latest = "latestActions" in coverage ? Math.max(0, Math.floor(coverage.latestActions)) : 0;
  // A connector summary that condenses nothing covers nothing.
  const id = randomBytes(12).toString("base64url");
  const args = [sessionId, o.now(), request.body, latest > 0 || ranges !== "" ? ranges : "0-0", latest, o.postLinkDebounceMs, o.maxWaitMs, ctx.ttlMs, id];
  const reply = (await rerunWhileUnknown(() => SUMMARIZE.run(ctx.redis, ctx.keys.session(sessionId), args))) as number[];
  if (Number(reply[0]) !== 1) {
    host.stats.summariesSkipped++;
    host.log("info", "summary of a session without a conversation; not posted", { sessionId });
    return { status: "unlinked", conversationId: null, snapshot: 0, key: "" };
  }
  ctx.schedule(sessionId, Number(reply[2]));
  const conversationId = (await ctx.redis.sendCommand(["HGET", ctx.keys.meta(sessionId), "conv"])) as string | null;
  return { status: "queued", conversationId, snapshot: Number(reply[1]), key: id };
}

/** Re-runs an idempotent step a few times while Redis is unreachable (its reply may have been lost). */
async function rerunWhileUnknown<T>(step: () => Promise<T>, tries = 4): Promise<T> {
  for (let attempt = 1, delay = 50; ; attempt++, delay *= 2) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError) || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Runs the session's next redaction if it is due and no instance holds it: one call, then its
 * outcome (done, retry with backoff, or given up) recorded under the claim. Returns false once
 * the session has no redaction left, true while it may have some.
 */
export async function redactOnce(ctx: OutcomeContext, sessionId: string, leaseMs: number): Promise<boolean> {
  const { host } = ctx;
  const o = host.options;
  const claim = randomBytes(12).toString("base64url");
  const keys = ctx.keys.session(sessionId);
  const reply = (await REDACT_CLAIM.run(ctx.redis, keys, [sessionId, o.now(), claim, leaseMs, ctx.ttlMs])) as unknown[];
  if (Number(reply[0]) !== 1) return Number(reply[1]) === 1;
  const conversationId = String(reply[1]);
  const partId = String(reply[2]);
  const attempt = Number(reply[3]);
  let outcome: "done" | "retry" | "retry-held" = "done";
  let retryAt = 0;
  try {
    await host.redact(conversationId, partId, sessionId);
    host.stats.redactions++;
    host.events.emit("redacted", { sessionId, conversationId, partId, attempt });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const decision = host.decide(error, attempt, Number(reply[4]));
    if (decision.kind === "give-up") {
      host.stats.redactionsFailed++;
      host.log("warn", "redaction given up; the note stays beside its summary", { productId: o.productId, sessionId, conversationId, partId, reason: decision.reason, attempts: attempt, error: message });
      host.events.emit("redaction-failed", { sessionId, conversationId, partId, attempts: attempt, reason: decision.reason, error: message });
    } else {
      outcome = decision.counted ? "retry" : "retry-held";
      retryAt = o.now() + decision.delayMs;
      host.stats.redactionRetries++;
      host.events.emit("redaction-retrying", { sessionId, conversationId, partId, attempt, delayMs: decision.delayMs, error: message });
    }
  }
  const args = [sessionId, claim, o.now(), outcome, retryAt, o.postLinkDebounceMs, o.maxWaitMs, ctx.ttlMs];
  const done = (await ctx.settle(sessionId, () => REDACT_DONE.run(ctx.redis, keys, args))) as number[];
  if (Number(done[0]) === 1) ctx.schedule(sessionId, Number(done[1]));
  return true;
}
