import type { IncomingMessage, ServerResponse } from "node:http";
import { ConcurrentUpdateError, PayloadError, WriterClosedError } from "../errors.js";
import { RedisUnavailableError } from "../redis/commands.js";
import type { ByteBudget } from "./byte-budget.js";

/** The one HTTP error type: a status, a stable code, a message safe to show the sender, and the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The sender went away before its body arrived: nobody to answer, and not a server error. */
export class ClientAbortError extends Error {
  constructor() {
    super("the client disconnected before its request body arrived");
    this.name = "ClientAbortError";
  }
}

/**
 * Reads the raw body (signatures are checked on these exact bytes), refusing more than `limit`
 * bytes (413) and more than the shared `budget` of bytes buffered across requests (503): bodies
 * are read before they can be authenticated, so their total must be bounded, not only each one.
 * On success the body's bytes stay taken from `budget`: the caller releases `body.length` once
 * it is done with the body; on failure they are released here.
 */
export function readBody(req: IncomingMessage, limit: number, budget?: ByteBudget): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new HttpError(413, "payload_too_large", `body over ${limit} bytes`));
  if (budget !== undefined && Number.isFinite(declared) && !budget.fits(declared)) return Promise.reject(busy());
  // A request destroyed before we listen would never emit again.
  if (req.destroyed) return Promise.reject(new ClientAbortError());
  // Stream events rather than `for await`: its iterator costs a promise per chunk.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: Error | null): void => {
      req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      if (error === null) {
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
        return;
      }
      budget?.release(size);
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) return settle(new HttpError(413, "payload_too_large", `body over ${limit} bytes`));
      if (budget !== undefined && !budget.take(chunk.length)) return settle(busy());
      size += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(null);
    // The sender disconnected mid-upload ("aborted" / ECONNRESET, or a close before the end).
    const onError = (error: Error): void => settle(req.destroyed || (error as { code?: unknown }).code === "ECONNRESET" ? new ClientAbortError() : error);
    const onClose = (): void => settle(new ClientAbortError());
    req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

function busy(): HttpError {
  return new HttpError(503, "busy", "too many request bytes in flight; retry");
}

/** Whether the request declares a JSON body (`application/json`, any parameters). */
export function isJson(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return typeof type === "string" && type.split(";")[0]?.trim().toLowerCase() === "application/json";
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Every error to a status in one place: bad input 400 (naming the field)/413, auth 401, and
 * anything that means "not recorded" a 503, so the sender retries (never a 500 for something it sent).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof PayloadError) {
    const field = (error as { field?: unknown }).field;
    return new HttpError(error.code === "PAYLOAD_TOO_LARGE" ? 413 : 400, error.code.toLowerCase(), error.reason, typeof field === "string" ? field : undefined);
  }
  if (error instanceof WriterClosedError) return new HttpError(503, "shutting_down", "the bridge is shutting down; retry");
  if (error instanceof RedisUnavailableError) return new HttpError(503, "store_unavailable", "state store unavailable; retry");
  if (error instanceof ConcurrentUpdateError) return new HttpError(503, "concurrent_update", "concurrent update; retry");
  return new HttpError(503, "not_recorded", "not recorded; retry");
}
