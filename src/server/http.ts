import type { IncomingMessage, ServerResponse } from "node:http";
import { ConcurrentUpdateError, PayloadError, WriterClosedError } from "../errors.js";
import { RedisUnavailableError } from "../redis/commands.js";

/** The one HTTP error type: a status, a stable code and a message safe to show the sender. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Reads the raw body (signatures are checked on these exact bytes), refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, "payload_too_large", `body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new HttpError(413, "payload_too_large", `body over ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Every error to a status in one place: bad input 400/413, auth 401, and anything that means
 * "not recorded" a 503, so the sender retries (never a 500 for something it sent).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof PayloadError) return new HttpError(error.code === "PAYLOAD_TOO_LARGE" ? 413 : 400, error.code.toLowerCase(), error.reason);
  if (error instanceof WriterClosedError) return new HttpError(503, "shutting_down", "the bridge is shutting down; retry");
  if (error instanceof RedisUnavailableError) return new HttpError(503, "store_unavailable", "state store unavailable; retry");
  if (error instanceof ConcurrentUpdateError) return new HttpError(503, "concurrent_update", "concurrent update; retry");
  return new HttpError(503, "not_recorded", "not recorded; retry");
}
