/** Stream-level tests: a slow consumer gets merged payloads, and only what cannot merge is dropped. */
import { afterEach, describe, expect, it } from "vitest";
import type { Payload } from "../payloads/types.js";
import { actionsFrame, descriptions, gate, startHarness, stopHarnesses, waitUntil } from "./test-support/harness.js";

afterEach(stopHarnesses);

const frame = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;

describe("ConnectorStream: backpressure", () => {
  it("50,000 one-action frames over 1,000 sessions with a slow handler: merged, none dropped", async () => {
    const held = gate();
    const got: Payload[] = [];
    const { fake, stream, logs } = await startHarness({
      stopTimeoutMs: 10_000,
      onPayload: async (payload) => {
        await held.promise;
        got.push(payload);
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    const sessions = 1_000;
    const perSession = 50;
    const chunks: string[] = [];
    for (let i = 0; i < perSession; i++) {
      for (let s = 0; s < sessions; s++) {
        const p = actionsFrame(`s${s}`, `${s}:${i}`);
        (p.actions as { index: number }[])[0]!.index = i; // the wire position in the session
        chunks.push(frame(p));
      }
      fake.sendRaw(chunks.splice(0).join(""));
    }
    await waitUntil(() => stream.stats().payloads === sessions * perSession, 30_000, "every frame read");
    const queued = stream.stats();
    expect(queued.dropped).toBe(0);
    expect(queued.queued).toBeLessThanOrEqual(10_000); // the default maxQueuedTotal
    expect(queued.queuedActions).toBe(sessions * (perSession - 1)); // one per session is in the handler
    held.open();
    await waitUntil(() => got.reduce((n, p) => n + (p.type === "actions" ? p.actions.length : 0), 0) === sessions * perSession, 30_000, "every action delivered");
    for (const s of [0, 517, 999]) {
      const mine = got.filter((p) => p.session_id === `s${s}`);
      expect(descriptions(mine)).toEqual(Array.from({ length: perSession }, (_, i) => `${s}:${i}`));
      // Merging keeps each action's wire index.
      expect(mine.flatMap((p) => (p.type === "actions" ? p.actions.map((a) => a.index) : []))).toEqual(Array.from({ length: perSession }, (_, i) => i));
    }
    const after = stream.stats();
    expect(after).toMatchObject({ dropped: 0, droppedActions: 0, queued: 0, queuedActions: 0 });
    expect(after.merged).toBeGreaterThan(0);
    expect(got.length + after.merged).toBe(sessions * perSession);
    expect(logs.filter((l) => l.level === "error")).toEqual([]);
    // The merge notice is rate-limited too.
    expect(logs.filter((l) => /merging/.test(l.message)).length).toBeLessThanOrEqual(2);
  }, 90_000);

  it("drops only what cannot merge (summaries), counts every drop, and logs them at a limited rate", async () => {
    const held = gate();
    const got: Payload[] = [];
    const { fake, stream, logs } = await startHarness({
      maxQueuedTotal: 10,
      onPayload: async (payload) => {
        await held.promise;
        got.push(payload);
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    let raw = "";
    for (let i = 0; i < 100; i++) raw += frame({ type: "summary", session_id: "s", summary: `sum ${i}`, replaces: 1, forwarded_at: 1 });
    // Actions of another session still merge instead of being dropped.
    for (let i = 0; i < 100; i++) raw += frame(actionsFrame("t", `t${i}`));
    fake.sendRaw(raw);
    await waitUntil(() => stream.stats().payloads === 200, 5_000);
    held.open();
    await waitUntil(() => stream.stats().queued === 0 && descriptions(got).length === 100, 5_000);
    const stats = stream.stats();
    // 1 summary in the handler, at most 10 entries queued: the other summaries are gone.
    expect(stats.dropped).toBeGreaterThanOrEqual(85);
    expect(stats.droppedActions).toBe(0);
    expect(descriptions(got)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i}`));
    expect(got.filter((p) => p.type === "summary").length + stats.dropped).toBe(100);
    const dropLines = logs.filter((l) => /dropped the oldest/.test(l.message));
    expect(dropLines).toHaveLength(1);
    expect(dropLines[0]!.level).toBe("error");
  });

  it("bounds a merged payload by maxMergedActions and keeps identity changes apart", async () => {
    const held = gate();
    const got: Payload[] = [];
    const { fake, stream } = await startHarness({
      maxQueuedPerSession: 2,
      maxMergedActions: 10,
      onPayload: async (payload) => {
        await held.promise;
        got.push(payload);
      },
    });
    stream.start();
    await fake.waitForConnections(1);
    let raw = "";
    for (let i = 0; i < 100; i++) raw += frame({ ...actionsFrame("s", `${i}`), email: i < 50 ? null : "new@example.com" });
    fake.sendRaw(raw);
    await waitUntil(() => stream.stats().payloads === 100, 5_000);
    held.open();
    await waitUntil(() => descriptions(got).length === 100, 5_000);
    expect(descriptions(got)).toEqual(Array.from({ length: 100 }, (_, i) => `${i}`));
    expect(got.every((p) => p.type === "actions" && p.actions.length <= 10)).toBe(true);
    // Null e-mails merge with the first non-empty one; no payload mixes two different ones.
    expect(got.findIndex((p) => p.type === "actions" && p.email === "new@example.com")).toBeGreaterThan(0);
    expect(stream.stats()).toMatchObject({ dropped: 0, queued: 0 });
  });
});
