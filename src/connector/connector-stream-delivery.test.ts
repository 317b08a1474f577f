import { afterEach, describe, expect, it } from "vitest";
import type { Payload } from "../payloads/types.js";
import { actionsFrame, descriptions, gate, startHarness, stopHarnesses, waitUntil } from "./test-support/harness.js";

afterEach(stopHarnesses);

const bySession = (payloads: readonly Payload[], session: string | null): Payload[] => payloads.filter((p) => p.session_id === session);

describe("ConnectorStream: delivery", () => {
  it("delivers payloads in arrival order per session, the no-session lane included", async () => {
    const { fake, stream, received } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    for (let i = 0; i < 30; i++) fake.send(actionsFrame([`a`, `b`, null][i % 3] ?? null, `${i}`));
    await waitUntil(() => received.length === 30);
    expect(descriptions(bySession(received, "a"))).toEqual(["0", "3", "6", "9", "12", "15", "18", "21", "24", "27"]);
    expect(descriptions(bySession(received, "b"))).toEqual(["1", "4", "7", "10", "13", "16", "19", "22", "25", "28"]);
    expect(descriptions(bySession(received, null))).toEqual(["2", "5", "8", "11", "14", "17", "20", "23", "26", "29"]);
  });

  it("skips heartbeats, comments, malformed frames and unknown types without losing the stream", async () => {
    const { fake, stream, received, logs } = await startHarness();
    stream.start();
    await fake.waitForConnections(1);
    fake.heartbeat();
    fake.sendRaw(": a comment\n\n");
    fake.sendRaw("data: {not json\n\n");
    fake.sendRaw("data: [1, 2]\n\n");
    fake.send({ type: "presence", session_id: "s1" });
    fake.send({ type: "summary", session_id: "s1", summary: "did things", replaces: 3, forwarded_at: 5 });
    fake.send(actionsFrame("s1", "kept"));
    await waitUntil(() => received.length === 2);
    expect(received.map((p) => p.type)).toEqual(["summary", "actions"]);
    expect(stream.stats()).toMatchObject({ frames: 6, heartbeats: 1, malformed: 2, ignored: 1, payloads: 2, connects: 1 });
    const warning = logs.find((l) => /malformed/.test(l.message));
    expect(warning?.fields).toMatchObject({ error: expect.stringMatching(/not valid JSON/) as unknown });
  });

  it("a slow onPayload for session A does not delay session B", async () => {
    const slowA = gate();
    const deliveredAt = new Map<string, number>();
    const { fake, stream } = await startHarness({
      onPayload: async (payload) => {
        if (payload.session_id === "A") await slowA.promise;
        deliveredAt.set(descriptions([payload])[0]!, Date.now());
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("A", "a1"));
    fake.send(actionsFrame("A", "a2"));
    const sentB = Date.now();
    fake.send(actionsFrame("B", "b1"));
    fake.send(actionsFrame("B", "b2"));
    await waitUntil(() => deliveredAt.has("b2"), 1_000, "session B");
    // A is still held: B went through around it, promptly.
    expect(deliveredAt.has("a1")).toBe(false);
    expect(deliveredAt.get("b2")! - sentB).toBeLessThan(250);
    slowA.open();
    await waitUntil(() => deliveredAt.has("a2"));
    expect(deliveredAt.get("a1")!).toBeLessThanOrEqual(deliveredAt.get("a2")!);
  });

  it("merges a slow session's backlog under maxQueuedPerSession and keeps every action in order", async () => {
    const held = gate();
    const got: Payload[] = [];
    const { fake, stream } = await startHarness({
      maxQueuedPerSession: 5,
      onPayload: async (payload) => {
        got.push(payload);
        await held.promise;
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      sent.push(`${i}.1`, `${i}.2`);
      fake.send(actionsFrame("slow", `${i}.1`, `${i}.2`));
    }
    await waitUntil(() => stream.stats().payloads === 40);
    expect(stream.stats().queued).toBeLessThanOrEqual(5);
    expect(stream.stats().merged).toBeGreaterThan(0);
    held.open();
    await waitUntil(() => descriptions(got).length === 80);
    expect(descriptions(got)).toEqual(sent);
    expect(stream.stats()).toMatchObject({ dropped: 0, queued: 0 });
  });

  it("logs and counts a failing onPayload, and keeps delivering", async () => {
    const seen: string[] = [];
    const { fake, stream, logs } = await startHarness({
      onPayload: async (payload) => {
        const [text] = descriptions([payload]);
        seen.push(text!);
        if (text === "bad") throw new Error("handler broke");
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    fake.send(actionsFrame("s", "bad"));
    fake.send(actionsFrame("s", "good"));
    await waitUntil(() => seen.length === 2);
    expect(seen).toEqual(["bad", "good"]);
    expect(stream.stats().handlerErrors).toBe(1);
    expect(logs.some((l) => l.level === "error" && /onPayload failed/.test(l.message))).toBe(true);
    expect(fake.connections).toBe(1);
  });

  it("stop() hands queued payloads over before resolving", async () => {
    const held = gate();
    const got: string[] = [];
    const { fake, stream } = await startHarness({
      onPayload: async (payload) => {
        await held.promise;
        got.push(...descriptions([payload]));
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    for (const d of ["1", "2", "3"]) fake.send(actionsFrame("s", d));
    await waitUntil(() => stream.stats().payloads === 3);
    const stopped = stream.stop();
    setTimeout(held.open, 50);
    await stopped;
    expect(got).toEqual(["1", "2", "3"]);
    await fake.waitForClosed(1_000);
  });

  it("stop() gives up after stopTimeoutMs, dropping what is still queued", async () => {
    const { fake, stream, logs } = await startHarness({
      stopTimeoutMs: 50,
      onPayload: () => new Promise<void>(() => undefined), // never settles
    });
    stream.start();
    await fake.waitForConnections(1);
    for (const d of ["1", "2", "3"]) fake.send(actionsFrame("s", d));
    await waitUntil(() => stream.stats().payloads === 3);
    const started = Date.now();
    await stream.stop();
    expect(Date.now() - started).toBeLessThan(400);
    expect(stream.stats()).toMatchObject({ dropped: 2, queued: 0 });
    expect(logs.some((l) => l.level === "error" && /dropped 2 queued/.test(l.message))).toBe(true);
  });
});
