import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { ConversationGoneError, PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";
import { deliveryErrorFor, platformRequest, retryAfterMs } from "./http-status.js";

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

function answer(status: number, headers: Record<string, string> = {}, text = "") {
  return { status, headers: new Headers(headers), text };
}

describe("retryAfterMs", () => {
  it("reads Retry-After as delta seconds or an HTTP date, relative to the writer's clock", () => {
    expect(retryAfterMs(new Headers({ "Retry-After": "3" }), NOW)).toBe(3000);
    expect(retryAfterMs(new Headers({ "Retry-After": "1.5" }), NOW)).toBe(1500);
    expect(retryAfterMs(new Headers({ "Retry-After": new Date(NOW + 7000).toUTCString() }), NOW)).toBe(7000);
    expect(retryAfterMs(new Headers({ "Retry-After": new Date(NOW - 7000).toUTCString() }), NOW)).toBe(0);
  });

  it("reads X-RateLimit-Reset as Unix seconds (or a small delta), and prefers Retry-After", () => {
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": String(NOW / 1000 + 4) }), NOW)).toBe(4000);
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": String(NOW / 1000 - 4) }), NOW)).toBe(0);
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": "10" }), NOW)).toBe(10_000);
    expect(retryAfterMs(new Headers({ "Retry-After": "2", "X-RateLimit-Reset": String(NOW / 1000 + 9) }), NOW)).toBe(2000);
  });

  it("ignores missing or malformed hints", () => {
    expect(retryAfterMs(new Headers(), NOW)).toBeUndefined();
    expect(retryAfterMs(new Headers({ "Retry-After": "soon", "X-RateLimit-Reset": "-1" }), NOW)).toBeUndefined();
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": "" }), NOW)).toBeUndefined();
  });
});

describe("deliveryErrorFor", () => {
  it.each([429, 408, 409, 425, 500, 502, 503, 504])("%i is retryable", (status) => {
    const error = deliveryErrorFor("Acme", answer(status), NOW);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status, throttled: false });
    expect(error.message).toContain("Acme");
  });

  it("carries the wait of a 429 (and of a 503 that gives one)", () => {
    expect(deliveryErrorFor("Acme", answer(429, { "X-RateLimit-Reset": String(NOW / 1000 + 2) }), NOW)).toMatchObject({ retryAfterMs: 2000 });
    expect(deliveryErrorFor("Acme", answer(503, { "Retry-After": "5" }), NOW)).toMatchObject({ retryAfterMs: 5000 });
    expect(deliveryErrorFor("Acme", answer(429), NOW)).toMatchObject({ retryAfterMs: undefined });
  });

  it.each([404, 410])("%i means the conversation is gone: ConversationGoneError (a permanent error)", (status) => {
    const error = deliveryErrorFor("Acme", answer(status), NOW);
    expect(error).toBeInstanceOf(ConversationGoneError);
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status, code: "CONVERSATION_GONE" });
  });

  it("lets the platform say which other answers mean gone, and which 404s do not", () => {
    const closed = deliveryErrorFor("Acme", answer(422, {}, '{"error":"closed"}'), NOW, [], true);
    expect(closed).toBeInstanceOf(ConversationGoneError);
    expect(closed.message).toBe('Acme answered 422: the conversation takes no more notes: {"error":"closed"}');
    const notGone = deliveryErrorFor("Acme", answer(404, {}, "admin not found"), NOW, [], false);
    expect(notGone).toBeInstanceOf(PermanentDeliveryError);
    expect(notGone).not.toBeInstanceOf(ConversationGoneError);
  });

  it.each([400, 401, 403, 413, 422])("%i is permanent and quotes the body", (status) => {
    const error = deliveryErrorFor("Acme", answer(status, {}, '{"error":  "bad\n things"}'), NOW);
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).not.toBeInstanceOf(ConversationGoneError);
    expect(error.message).toBe(`Acme answered ${status}: {"error": "bad things"}`);
  });

  it("never repeats a secret the body echoes, and keeps the quote short", () => {
    const error = deliveryErrorFor("Acme", answer(401, {}, `token s3cr3t-token rejected ${"x".repeat(500)}`), NOW, ["s3cr3t-token"]);
    expect(error.message).not.toContain("s3cr3t");
    expect(error.message).toContain("[redacted]");
    expect(error.message.length).toBeLessThan(260);
  });
});

describe("platformRequest", () => {
  const request = (url: string, signal?: AbortSignal, timeoutMs = 2000) =>
    ({ method: "POST", url, headers: { Authorization: "Bearer tok-123456" }, json: { a: 1 }, signal, timeoutMs }) as const;

  /** A local server answering with `handler`; closed (connections dropped) after `run`. */
  async function withServer(handler: Parameters<typeof createServer>[1], run: (url: string) => Promise<void>): Promise<void> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it("maps a refused connection to a retryable error naming the platform", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const failure = platformRequest("Acme", request(`http://127.0.0.1:${port}/x`), Date.now);
    await expect(failure).rejects.toBeInstanceOf(RetryableDeliveryError);
    await expect(failure).rejects.toThrow(/Acme unreachable: ECONNREFUSED/);
    // No numeric status: the engines treat the outcome as unknown (the note is frozen).
    await expect(failure).rejects.toMatchObject({ status: undefined });
  });

  it("settles a hung request at its transport timeout as retryable without a status", async () => {
    await withServer(() => undefined, async (url) => {
      const started = Date.now();
      const failure = platformRequest("Acme", request(url, undefined, 150), Date.now);
      await expect(failure).rejects.toBeInstanceOf(RetryableDeliveryError);
      await expect(failure).rejects.toThrow("Acme did not answer within 150 ms (the request may have landed)");
      await expect(failure).rejects.toMatchObject({ status: undefined });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });
  });

  it("awaits a slow answer within the transport timeout: nothing else aborts it", async () => {
    await withServer(
      (_req, res) => void setTimeout(() => res.writeHead(201, { "content-type": "application/json" }).end('{"id":"late"}'), 300),
      async (url) => {
        await expect(platformRequest("Acme", request(url, new AbortController().signal, 5000), Date.now)).resolves.toEqual({ id: "late" });
      },
    );
  });

  it("counts a 2xx whose body is lost mid-read as accepted (failing would post twice)", async () => {
    await withServer(
      (req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
        res.write('{"id":');
        setTimeout(() => req.socket.destroy(), 20);
      },
      async (url) => {
        await expect(platformRequest("Acme", request(url), Date.now)).resolves.toBeUndefined();
      },
    );
  });

  it("rethrows the writer's give-up as it is, also for a request already under way", async () => {
    const controller = new AbortController();
    const reason = new Error("writer gave up");
    controller.abort(reason);
    await expect(platformRequest("Acme", request("http://127.0.0.1:9/x", controller.signal), Date.now)).rejects.toBe(reason);
    await withServer(() => undefined, async (url) => {
      const later = new AbortController();
      const pending = platformRequest("Acme", request(url, later.signal, 10_000), Date.now);
      setTimeout(() => later.abort(reason), 50);
      await expect(pending).rejects.toBe(reason);
    });
  });

  it("accepts a 2xx that is not JSON, and a failure the caller counts as done; hides the Authorization header", async () => {
    const bodies = ["not json", '{"code":"gone"}', "echo Bearer tok-123456", '{"closed":true}'];
    const statuses = [200, 400, 403, 422];
    await withServer(
      (_req, res) => void res.writeHead(statuses.shift() ?? 500).end(bodies.shift()),
      async (url) => {
        await expect(platformRequest("Acme", request(url), Date.now)).resolves.toBeUndefined();
        const done = { ...request(url), isDone: (_: number, body: unknown) => (body as { code?: string }).code === "gone" };
        await expect(platformRequest("Acme", done, Date.now)).resolves.toEqual({ code: "gone" });
        await expect(platformRequest("Acme", request(url), Date.now)).rejects.toThrow("Acme answered 403: echo [redacted]");
        const gone = { ...request(url), isGone: (status: number, body: unknown) => status === 422 && (body as { closed?: boolean }).closed === true };
        await expect(platformRequest("Acme", gone, Date.now)).rejects.toBeInstanceOf(ConversationGoneError);
      },
    );
  });
});
