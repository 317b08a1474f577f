/** What every route handler shares: the app's options, replies, and request helpers. */
import { hash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { BridgeAppOptions } from "./app.js";
import { HttpError } from "./http.js";
import type { ReplayGuard } from "./replay-guard.js";

/** A handler's answer. */
export interface Reply {
  status: number;
  body: unknown;
}

/** The options plus what every handler shares. */
export interface AppContext extends BridgeAppOptions {
  actionsReplay: ReplayGuard;
  /** Counts and (rate-limited) logs a refused signature or token, then returns the 401 to throw. */
  refuse(route: string, message: string): HttpError;
}

/** The first value of a request header. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** sha256 hex of the bytes (replay keys). */
export function digest(raw: Buffer | string): string {
  // One-shot hashing (Node >= 20.12): no Hash object per request.
  return hash("sha256", raw, "hex");
}

/** Parses a JSON object body; 400 otherwise. */
export function parseJson(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, "invalid_json", "body must be a JSON object");
  return value as Record<string, unknown>;
}

/**
 * Runs `work` once per `key`. A repeat of recorded work is acknowledged as a duplicate; a repeat
 * while the first is still running answers 503 (retry); a failure frees the key.
 */
export async function once(replay: ReplayGuard, key: string, work: () => Promise<Reply>, duplicate: Reply): Promise<Reply> {
  const state = await replay.begin(key);
  if (state === "done") return duplicate;
  if (state === "in-progress") throw new HttpError(503, "in_progress", "the same delivery is being processed; retry");
  let reply: Reply;
  try {
    reply = await work();
  } catch (error) {
    await replay.abandon(key).catch(() => undefined);
    throw error;
  }
  // The work is recorded: a failure to remember that only risks processing a replay again.
  await replay.complete(key).catch(() => undefined);
  return reply;
}

/**
 * Whether a route whose secret is `secret` lets this request through unsigned. Throws the 401
 * when the secret is unset and unsigned requests are not allowed (fail closed).
 */
export function unsignedAllowed(c: AppContext, route: string, secret: string | undefined, setting: string): boolean {
  if (secret !== undefined) return false;
  if (c.allowUnsigned === true) return true;
  throw new HttpError(401, "unauthorized", `${route} is not configured: set ${setting}`);
}

