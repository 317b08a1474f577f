import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { PermanentDeliveryError, RetryableDeliveryError } from "../errors.js";
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

  it.each([404, 410])("%i means the conversation is gone: permanent", (status) => {
    const error = deliveryErrorFor("Acme", answer(status), NOW);
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status });
  });

  it.each([400, 401, 403, 413, 422])("%i is permanent and quotes the body", (status) => {
    const error = deliveryErrorFor("Acme", answer(status, {}, '{"error":  "bad\n things"}'), NOW);
    expect(error).toBeInstanceOf(PermanentDeliveryError);
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
  const request = (url: string, signal = AbortSignal.timeout(2000)) =>
    ({ method: "POST", url, headers: { Authorization: "Bearer tok-123456" }, json: { a: 1 }, signal }) as const;

  it("maps a refused connection to a retryable error naming the platform", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const failure = platformRequest("Acme", request(`http://127.0.0.1:${port}/x`), Date.now);
    await expect(failure).rejects.toBeInstanceOf(RetryableDeliveryError);
    await expect(failure).rejects.toThrow(/Acme unreachable: ECONNREFUSED/);
  });

  it("rethrows the caller's abort as it is", async () => {
    const controller = new AbortController();
    const reason = new Error("writer gave up");
    controller.abort(reason);
    await expect(platformRequest("Acme", request("http://127.0.0.1:9/x", controller.signal), Date.now)).rejects.toBe(reason);
  });

  it("accepts a 2xx that is not JSON, and a failure the caller counts as done; hides the Authorization header", async () => {
    const bodies = ["not json", '{"code":"gone"}', "echo Bearer tok-123456"];
    const statuses = [200, 400, 403];
    const server = createServer((_req, res) => res.writeHead(statuses.shift() ?? 500).end(bodies.shift()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    try {
      await expect(platformRequest("Acme", request(url), Date.now)).resolves.toBeUndefined();
      const done = { ...request(url), isDone: (_: number, body: unknown) => (body as { code?: string }).code === "gone" };
      await expect(platformRequest("Acme", done, Date.now)).resolves.toEqual({ code: "gone" });
      await expect(platformRequest("Acme", request(url), Date.now)).rejects.toThrow("Acme answered 403: echo [redacted]");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
