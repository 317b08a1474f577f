/** Operator routes: the dead letters, and re-driving them. Access is checked by the app (admin routes). */
import { deadLetterToWire } from "./dead-letter-wire.js";
import type { IncomingMessage } from "node:http";
import { parseJson, type AppContext, type Reply } from "./context.js";
import { HttpError } from "./http.js";

/** `GET /dead-letters`: every dead letter (with Redis delivery: the list all instances share), oldest first. */
export async function deadLetters(c: AppContext): Promise<Reply> {
  const letters = await c.manager.writer.deadLetters();
  return { status: 200, body: { count: letters.length, dead_letters: letters.map(deadLetterToWire) } };
}

/**
 * `POST /dead-letters/redrive` with an optional `{"ids": [...]}` (all when absent): the letters'
 * actions are queued again for their session's current conversation and the letters removed;
 * a note that fails again is dead-lettered again.
 */
export async function redrive(c: AppContext, _req: IncomingMessage, raw: Buffer): Promise<Reply> {
  const ids = raw.length === 0 ? undefined : idsOf(parseJson(raw).ids);
  const outcome = await c.manager.writer.redriveDeadLetters(ids);
  c.logger.info("dead letters re-driven", { asked: ids?.length ?? "all", requeued: outcome.requeued, actions: outcome.actions, missing: outcome.missing.length });
  return { status: 200, body: { requeued: outcome.requeued, actions: outcome.actions, missing: outcome.missing } };
}

function idsOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new HttpError(400, "invalid_field", "ids must be an array of dead-letter ids", "ids");
  return value.map((id: unknown, i) => {
    if (typeof id !== "string" || id === "") throw new HttpError(400, "invalid_field", `ids[${i}] must be a non-empty string`, `ids[${i}]`);
    return id;
  });
}

