import { describe, expect, it } from "vitest";
import type { ActionsPayload, Payload, SummaryPayload } from "../payloads/types.js";
import { SessionLanes } from "./session-lanes.js";
import type { LaneLog } from "./session-lanes.js";

function actions(session: string | null, ...descriptions: string[]): ActionsPayload {
  return {
    type: "actions",
    product_id: "p",
    session_id: session,
    user_id: null,
    email: null,
    actions: descriptions.map((description, index) => ({
      index,
      type: "click",
      title: "",
      description,
      canonical_url: "/",
      raw_url: "/",
      timestamp_start: 1,
      timestamp_end: 1,
    })),
    count: descriptions.length,
    forwarded_at: 1,
    conversation_id: null,
  };
}

const summary = (session: string, text: string): SummaryPayload => ({
  type: "summary",
  product_id: "p",
  session_id: session,
  summary: text,
  replaces: 1,
  forwarded_at: 1,
});

const label = (p: Payload): string => (p.type === "summary" ? `S:${p.summary}` : p.actions.map((a) => a.description).join("+"));

/** A handler that records calls and holds each one until released. */
function gatedHandler() {
  const calls: Payload[] = [];
  const gates: (() => void)[] = [];
  const handler = (payload: Payload): Promise<void> => {
    calls.push(payload);
    return new Promise((resolve) => gates.push(resolve));
  };
  const releaseAll = async (): Promise<void> => {
    // Released handlers start the next ones, which also need releasing.
    for (let i = 0; i < 100 && gates.length > 0; i++) {
      for (const open of gates.splice(0)) open();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { calls, handler, releaseAll };
}

const logs: { level: string; message: string }[] = [];
const log: LaneLog = (level, message) => logs.push({ level, message });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("SessionLanes", () => {
  it("hands over sequentially per session and concurrently across sessions", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 100, maxTotal: 100, log });
    lanes.push(actions("a", "a1"));
    lanes.push(actions("a", "a2"));
    lanes.push(actions("b", "b1"));
    lanes.push(actions(null, "n1"));
    await tick();
    // a2 waits for a1; b1 and the no-session lane run alongside.
    expect(calls.map(label)).toEqual(["a1", "b1", "n1"]);
    expect(lanes.queued).toBe(1);
    await releaseAll();
    expect(calls.map(label)).toEqual(["a1", "b1", "n1", "a2"]);
    await lanes.whenIdle();
  });

  it("merges runs of queued actions over maxPerSession, keeping summaries in place", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 3, maxTotal: 100, log });
    lanes.push(actions("a", "busy"));
    await tick();
    for (const p of [actions("a", "1"), actions("a", "2", "3"), summary("a", "s"), actions("a", "4"), actions("a", "5")]) lanes.push(p);
    expect(lanes.queued).toBe(3);
    expect(lanes.counters.merged).toBe(2);
    await releaseAll();
    expect(calls.map(label)).toEqual(["busy", "1+2+3", "S:s", "4+5"]);
    // Wire indexes are kept (not renumbered), so Redis delivery can still spot replays.
    expect(calls[1]!.type === "actions" && calls[1]!.actions.map((a) => a.index)).toEqual([0, 0, 1]);
  });

  it("drops the oldest queued payload across sessions beyond maxTotal", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 100, maxTotal: 2, log });
    lanes.push(actions("a", "a-busy"));
    lanes.push(actions("b", "b-busy"));
    await tick();
    lanes.push(summary("a", "a1"));
    lanes.push(summary("b", "b1"));
    lanes.push(summary("a", "a2"));
    expect(lanes.counters.dropped).toBe(1);
    expect(lanes.queued).toBe(2);
    expect(logs.some((l) => l.level === "error" && /dropped the oldest/.test(l.message))).toBe(true);
    await releaseAll();
    // a1, the oldest queued, is gone; the other two are delivered (lanes run concurrently).
    expect(calls.map(label).sort()).toEqual(["S:a2", "S:b1", "a-busy", "b-busy"]);
  });

  it("under total pressure merges into each session's tail before dropping anything", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 100, maxTotal: 4, log });
    for (const s of ["a", "b"]) lanes.push(actions(s, `${s}-busy`));
    await tick();
    for (let i = 0; i < 20; i++) for (const s of ["a", "b"]) lanes.push(actions(s, `${s}${i}`));
    expect(lanes.counters.dropped).toBe(0);
    expect(lanes.queued).toBeLessThanOrEqual(4);
    expect(lanes.queuedActions).toBe(40);
    await releaseAll();
    const of = (s: string) => calls.filter((p) => p.session_id === s).flatMap((p) => (p.type === "actions" ? p.actions.map((a) => a.description) : []));
    expect(of("a")).toEqual(["a-busy", ...Array.from({ length: 20 }, (_, i) => `a${i}`)]);
    expect(lanes.queuedActions).toBe(0);
  });

  it("never merges payloads of different users, e-mails or conversations", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 1, maxTotal: 100, log });
    lanes.push(actions("a", "busy"));
    await tick();
    const withUser = (user: string | null, d: string) => ({ ...actions("a", d), user_id: user });
    for (const p of [withUser(null, "1"), withUser("u1", "2"), withUser(null, "3"), withUser("u2", "4"), withUser("u2", "5")]) lanes.push(p);
    await releaseAll();
    expect(calls.map((p) => `${label(p)}@${p.type === "actions" ? p.user_id : ""}`)).toEqual(["busy@null", "1+2+3@u1", "4+5@u2"]);
  });

  it("drops the oldest beyond maxActions, counting payloads and actions", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 100, maxTotal: 100, maxActions: 5, maxMergedActions: 2, log });
    lanes.push(actions("a", "busy"));
    await tick();
    for (let i = 0; i < 8; i++) lanes.push(actions("a", `${i}`));
    expect(lanes.queuedActions).toBe(5);
    expect(lanes.counters).toMatchObject({ dropped: 3, droppedActions: 3 });
    await releaseAll();
    expect(calls.flatMap((p) => (p.type === "actions" ? p.actions.map((a) => a.description) : []))).toEqual(["busy", "3", "4", "5", "6", "7"]);
  });

  it("counts and logs a failing handler, then carries on", async () => {
    const seen: string[] = [];
    const handler = async (p: Payload): Promise<void> => {
      seen.push(label(p));
      if (label(p) === "bad") throw new Error("boom");
    };
    const lanes = new SessionLanes({ handler, maxPerSession: 10, maxTotal: 10, log });
    lanes.push(actions("a", "bad"));
    lanes.push(actions("a", "good"));
    await lanes.whenIdle();
    expect(seen).toEqual(["bad", "good"]);
    expect(lanes.counters.handlerErrors).toBe(1);
  });

  it("abandon drops what is queued but lets running handlers finish", async () => {
    const { calls, handler, releaseAll } = gatedHandler();
    const lanes = new SessionLanes({ handler, maxPerSession: 10, maxTotal: 10, log });
    lanes.push(actions("a", "1"));
    await tick();
    lanes.push(actions("a", "2"));
    expect(lanes.abandon("test")).toBe(1);
    expect(lanes.counters.dropped).toBe(1);
    await releaseAll();
    await lanes.whenIdle();
    expect(calls.map(label)).toEqual(["1"]);
  });
});
