import { afterEach, describe, expect, it } from "vitest";
import { ConnectorStream } from "./connector-stream.js";
import { ConnectorFatalError } from "./errors.js";
import type { FakeConnector } from "../../test/support/fake-sse.js";
import { TOKEN, actionsFrame, descriptions, startHarness, stopHarnesses, waitUntil } from "./test-support/harness.js";

afterEach(stopHarnesses);

describe("ConnectorStream: connection", () => {
  it("sends the bearer token and SSE headers, and Last-Event-ID once an id was seen", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    stream.start(); // idempotent
    await fake.waitForConnections(1);
    const first = fake.requests[0]!;
    expect(first.authorization).toBe(`Bearer ${TOKEN}`);
    expect(first.accept).toBe("text/event-stream");
    expect(first["cache-control"]).toBe("no-cache");
    expect(first["last-event-id"]).toBeUndefined();

    fake.send(actionsFrame("s1", "a"), { id: "evt-41" });
    await waitUntil(() => received.length === 1);
    fake.drop();
    await fake.waitForConnections(2);
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!["last-event-id"]).toBe("evt-41");
  });

  it("reconnects after the server drops the connection and keeps delivering", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("s1", "before"));
    await waitUntil(() => received.length === 1);
    fake.drop();
    await fake.waitForConnections(2);
    fake.send(actionsFrame("s1", "after"));
    await waitUntil(() => received.length === 2);
    expect(descriptions(received)).toEqual(["before", "after"]);
    expect(stream.stats()).toMatchObject({ connects: 2, reconnects: 1, payloads: 2, connected: true });
  });

  it("reconnects after 503s with backoff, then streams", async () => {
    const { fake, stream, received } = await startHarness();
    fake.respondWith(503, { times: 3 });
    stream.start();
    await fake.waitForConnections(1);
    expect(fake.requests).toHaveLength(4);
    fake.send(actionsFrame("s1", "x"));
    await waitUntil(() => received.length === 1);
    expect(stream.stats()).toMatchObject({ connects: 1, reconnects: 3 });
  });

  it("honours Retry-After on a 429 as a floor on the backoff", async () => {
    const { fake, stream } = await startHarness();
    fake.respondWith(429, { times: 1, headers: { "retry-after": "1" } });
    const started = Date.now();
    stream.start();
    await fake.waitForConnections(1, 3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it.each([
    [401, "a wrong token", (fake: FakeConnector) => ({ token: `${TOKEN}-revoked`, url: fake.url })],
    [403, "a forbidden product", (fake: FakeConnector) => (fake.respondWith(403), {})],
    [404, "an unknown product", (fake: FakeConnector) => ({ url: fake.url.replace(/prod-test$/, "nope") })],
  ])("stops for good with ConnectorFatalError on %i (%s)", async (status, _why, setup) => {
    const { fake, stream } = await startHarness((f) => ({ ...setup(f), initialBackoffMs: 5 }));
    stream.start();
    const error = await stream.done.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorFatalError);
    expect((error as ConnectorFatalError).status).toBe(status);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(fake.requests).toHaveLength(1);
    expect(stream.stats().fatalStatus).toBe(status);
    await stream.stop(); // still resolves after a fatal stop
  });

  it("treats a silent connection as dead after silenceTimeoutMs and reconnects", async () => {
    const { fake, stream } = await startHarness({ silenceTimeoutMs: 150 });
    stream.start();
    await fake.waitForConnections(1);
    const started = Date.now();
    await fake.waitForConnections(2, 1_500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    await waitUntil(() => fake.open === 1, 1_000, "the dead connection to close on the server");
  });

  it("heartbeats keep a quiet connection alive and are not delivered", async () => {
    const { fake, stream, received } = await startHarness({ silenceTimeoutMs: 150 });
    stream.start();
    await fake.waitForConnections(1);
    for (let i = 0; i < 8; i++) {
      if (i % 2 === 0) fake.heartbeat();
      else fake.sendRaw("event: heartbeat\n\n"); // the dataless form counts too
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(fake.connections).toBe(1);
    expect(received).toEqual([]);
    expect(stream.stats()).toMatchObject({ heartbeats: 8, frames: 8, payloads: 0 });
  });

  it("skips an event over the 2 MiB limit to its end, counts it, and keeps the connection", async () => {
    const { fake, stream, received, logs } = await startHarness(); // the default maxEventSize: 2 MiB
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("s1", "before"));
    // One oversized data line, written in pieces, then an oversized event of many short lines.
    fake.sendRaw(`data: {"type":"actions","session_id":"s1","actions":[{"description":"${"x".repeat(1_500_000)}`);
    fake.sendRaw("y".repeat(1_500_000));
    fake.sendRaw(`"}]}\n\n`);
    fake.send(actionsFrame("s1", "between"));
    fake.sendRaw(`${"data: 0123456789012345678901234567890123456789\n".repeat(60_000)}\n`);
    fake.send(actionsFrame("s1", "after"));
    await waitUntil(() => received.length === 3, 10_000, "the frames around the oversized events");
    expect(descriptions(received)).toEqual(["before", "between", "after"]);
    expect(fake.connections).toBe(1);
    expect(stream.stats()).toMatchObject({ oversized: 2, malformed: 0, connects: 1, reconnects: 0, payloads: 3 });
    // Logged, at a limited rate: one line for the first, the second held back.
    const lines = logs.filter((l) => /larger than 2097152/.test(l.message));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe("error");
  });

  it("stop() closes the connection, resolves done, and cancels a reconnect wait", async () => {
    const { fake, stream } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    await stream.stop();
    await stream.done;
    await fake.waitForClosed(1_000);
    expect(stream.stats().connected).toBe(false);
    await stream.stop(); // twice is fine

    const waiting = await startHarness({ initialBackoffMs: 10_000, maxBackoffMs: 10_000 });
    waiting.fake.respondWith(503);
    waiting.stream.start();
    await waiting.fake.waitForRequests(1);
    const started = Date.now();
    await waiting.stream.stop();
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("stop() before start() resolves done, and start() after it does nothing", async () => {
    const { fake, stream } = await startHarness();
    await stream.stop();
    await stream.done;
    stream.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fake.requests).toHaveLength(0);
  });

  it("rejects invalid options with a TypeError naming the option", () => {
    const base = { url: "http://127.0.0.1:1/stream/p", token: "t", onPayload: async () => undefined };
    expect(() => new ConnectorStream({ ...base, url: "ftp://x" })).toThrow(/`url`/);
    expect(() => new ConnectorStream({ ...base, token: "" })).toThrow(/`token`/);
    expect(() => new ConnectorStream({ ...base, maxBackoffMs: 10, initialBackoffMs: 100 })).toThrow(/maxBackoffMs/);
    expect(() => new ConnectorStream({ ...base, maxQueuedPerSession: 0 })).toThrow(/maxQueuedPerSession/);
    expect(() => new ConnectorStream({ ...base, jitter: "half" as never })).toThrow(/jitter/);
  });
});
