/** Stream-level tests: backoff reset, Last-Event-ID, the silence watchdog, and the counters for metrics. */
import { afterEach, describe, expect, it } from "vitest";
import { ConnectorStream } from "./connector-stream.js";
import { actionsFrame, descriptions, startHarness, stopHarnesses, waitUntil } from "./test-support/harness.js";

afterEach(stopHarnesses);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ConnectorStream: backoff resets only after a healthy connection", () => {
  // Jitter pinned to the top of the range: delay n is about initialBackoffMs · 2^n.
  const backoff = { initialBackoffMs: 40, maxBackoffMs: 640, random: () => 0.999 };

  it("keeps doubling the delay for a connector that sends one frame and dies", async () => {
    const { fake, stream } = await startHarness({ ...backoff, healthyConnectionMs: 60_000 });
    stream.start();
    const openedAt: number[] = [];
    for (let n = 1; n <= 5; n++) {
      await fake.waitForConnections(n, 5_000);
      openedAt.push(Date.now());
      fake.heartbeat();
      await waitUntil(() => stream.stats().heartbeats === n, 2_000, `heartbeat ${n}`);
      fake.drop();
    }
    await fake.waitForConnections(6, 5_000);
    openedAt.push(Date.now());
    // Delays 40, 80, 160, 320, 640 ms; a reset after every frame would make each about 40 ms.
    const lastGap = openedAt[5]! - openedAt[4]!;
    expect(lastGap).toBeGreaterThanOrEqual(500);
    expect(openedAt[4]! - openedAt[3]!).toBeGreaterThanOrEqual(250);
    expect(stream.stats().consecutiveFailures).toBe(5);
  });

  it("starts from initialBackoffMs again after a connection that stayed up healthyConnectionMs", async () => {
    const { fake, stream } = await startHarness({ ...backoff, healthyConnectionMs: 300 });
    stream.start();
    for (let n = 1; n <= 4; n++) {
      await fake.waitForConnections(n, 5_000);
      fake.heartbeat();
      await waitUntil(() => stream.stats().heartbeats === n, 2_000, `heartbeat ${n}`);
      fake.drop();
    }
    await fake.waitForConnections(5, 5_000);
    fake.heartbeat();
    await pause(400); // healthy now
    fake.drop();
    const dropped = Date.now();
    await fake.waitForConnections(6, 5_000);
    // Without the reset this delay would be 320 ms or more (attempt 4).
    expect(Date.now() - dropped).toBeLessThan(250);
    expect(stream.stats().consecutiveFailures).toBe(1);
  });

  it("rejects an invalid healthyConnectionMs naming the option", () => {
    const base = { url: "http://127.0.0.1:1/stream/p", token: "t", onPayload: async () => undefined };
    expect(() => new ConnectorStream({ ...base, healthyConnectionMs: -1 })).toThrow(/healthyConnectionMs/);
  });
});

describe("ConnectorStream: Last-Event-ID (WHATWG)", () => {
  it("is the id of the last dispatched event: an id in a block cut off by a disconnect does not count", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("s", "one"), { id: "1" });
    fake.sendRaw(`id: 2\ndata: ${JSON.stringify(actionsFrame("s", "two"))}\n`); // no blank line: never dispatched
    await waitUntil(() => received.length === 1);
    await pause(50);
    fake.drop();
    await fake.waitForConnections(2);
    expect(fake.requests[1]!["last-event-id"]).toBe("1");
    expect(descriptions(received)).toEqual(["one"]);
  });

  it("an empty id resets it, and then no header is sent", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("s", "one"), { id: "7" });
    await waitUntil(() => received.length === 1); // read apart from the reset that follows
    fake.sendRaw(`id\ndata: ${JSON.stringify(actionsFrame("s", "two"))}\n\n`);
    await waitUntil(() => received.length === 2);
    fake.drop();
    await fake.waitForConnections(2);
    expect(fake.requests[1]!["last-event-id"]).toBeUndefined();
  });

  it("a dataless block dispatches its id, and the id carries over a reconnect", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    fake.sendRaw("id: 9\n\n");
    fake.send(actionsFrame("s", "one"));
    await waitUntil(() => received.length === 1);
    fake.drop();
    await fake.waitForConnections(2);
    expect(fake.requests[1]!["last-event-id"]).toBe("9");
    fake.send(actionsFrame("s", "two")); // no id on the new connection: the old one stays
    await waitUntil(() => received.length === 2);
    fake.drop();
    await fake.waitForConnections(3);
    expect(fake.requests[2]!["last-event-id"]).toBe("9");
  });
});

describe("ConnectorStream: silence watchdog", () => {
  it("silenceTimeoutMs sets it, and the former name heartbeatTimeoutMs still works", async () => {
    for (const option of ["silenceTimeoutMs", "heartbeatTimeoutMs"] as const) {
      const { fake, stream } = await startHarness((f) => ({ [option]: 150, ...(option === "heartbeatTimeoutMs" ? { silenceTimeoutMs: undefined } : {}), url: f.url }));
      stream.start();
      await fake.waitForConnections(1);
      const started = Date.now();
      await fake.waitForConnections(2, 1_500);
      expect(Date.now() - started).toBeGreaterThanOrEqual(120);
      await stream.stop();
    }
  });

  it("rejects conflicting or invalid values naming the option", () => {
    const base = { url: "http://127.0.0.1:1/stream/p", token: "t", onPayload: async () => undefined };
    expect(() => new ConnectorStream({ ...base, silenceTimeoutMs: 0 })).toThrow(/silenceTimeoutMs/);
    expect(() => new ConnectorStream({ ...base, silenceTimeoutMs: 1_000, heartbeatTimeoutMs: 2_000 })).toThrow(/silenceTimeoutMs/);
  });
});

describe("ConnectorStream: stats() for metrics", () => {
  it("counts every kind of frame, and logs unknown types at a limited rate", async () => {
    const { fake, stream, received, logs } = await startHarness({ maxEventSize: 10_000 });
    stream.start();
    await fake.waitForConnections(1);
    fake.heartbeat();
    fake.sendRaw("data: {not json\n\n");
    fake.sendRaw(`data: ${"x".repeat(20_000)}\n\n`);
    fake.sendRaw("event: note\n\n"); // typed, but nothing to deliver
    for (let i = 0; i < 50; i++) fake.send({ type: "presence", session_id: "s1" });
    fake.send(actionsFrame("s1", "kept"), { id: "a" });
    await waitUntil(() => received.length === 1);
    fake.drop();
    await fake.waitForConnections(2);
    await waitUntil(() => stream.stats().connected);
    expect(stream.stats()).toEqual({
      connects: 2,
      reconnects: 1,
      frames: 54,
      heartbeats: 1,
      payloads: 1,
      malformed: 1,
      oversized: 1,
      unknownTypes: 50,
      ignored: 51,
      merged: 0,
      dropped: 0,
      droppedActions: 0,
      handlerErrors: 0,
      queued: 0,
      queuedActions: 0,
      connected: true,
      consecutiveFailures: 1,
    });
    const unknown = logs.filter((l) => /unknown type/.test(l.message));
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.fields).toMatchObject({ type: '"presence"', unknownTypes: 1 });
  });
});
