import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PayloadError, WriterClosedError } from "../errors.js";
import { parseActionsPayload, wasDefaulted } from "../payloads/parse.js";
import type { SlimAction } from "../payloads/types.js";
import { SessionState } from "../session/session-state.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import { RecordingChatbotWriter } from "../testing/index.js";
import type { WriteOutcome } from "../writer/delivery-engine.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";

const T0 = 1_718_000_000;
let writer: ScriptedWriter;
let manager: AutoplayChatbotManager;

/** A recording writer that counts `writeActions` calls and may answer chosen outcomes (an engine that dedupes). */
class ScriptedWriter extends RecordingChatbotWriter {
  readonly writes: Array<Parameters<RecordingChatbotWriter["writeActions"]>> = [];
  readonly outcomes: WriteOutcome[] = [];
  override async writeActions(...args: Parameters<RecordingChatbotWriter["writeActions"]>): Promise<WriteOutcome> {
    this.writes.push(args);
    const real = await super.writeActions(...args);
    return this.outcomes.shift() ?? real;
  }
}

function payload(sessionId: string, actions: SlimAction[], extra: Record<string, unknown> = {}) {
  return { type: "actions", product_id: "p", session_id: sessionId, actions, count: actions.length, forwarded_at: T0, ...extra };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 * 1000);
  writer = new ScriptedWriter({ logger: {} });
  manager = new AutoplayChatbotManager({ writer });
});

afterEach(async () => {
  const closing = manager.close();
  await vi.advanceTimersByTimeAsync(60_000);
  await closing;
  vi.useRealTimers();
});

describe("bounded memory in memory mode (#7 k)", () => {
  it("a never-linked session's state expires with its window; a linked one stays", async () => {
    await manager.onActions(payload("never", [slim("a", T0)]));
    await manager.onChatbotEvent("linked", "c");
    vi.setSystemTime((T0 + 240) * 1000);
    expect(await manager.getState("never")).toBeNull();
    expect(await manager.getState("linked")).not.toBeNull();
    expect(manager.stats().sessionStore).toMatchObject({ expired: 1 });
  });

  it("an active never-linked session is re-saved in time: its state (and identity) outlives many windows", async () => {
    await manager.onActions(payload("active", [slim("a", T0)], { email: "a@example.com" }));
    for (let minute = 1; minute <= 30; minute += 1) {
      vi.setSystemTime((T0 + minute * 60) * 1000);
      await manager.onActions(payload("active", [slim(`m${minute}`, T0 + minute * 60)]));
    }
    expect((await manager.getState("active"))?.metadata.email).toBe("a@example.com");
  });

  it("caps the default store's count (LRU) and counts evictions in stats", async () => {
    const w = new ScriptedWriter({ logger: {} });
    const m = new AutoplayChatbotManager({ writer: w, maxSessions: 100 });
    for (let i = 0; i < 1_000; i += 1) await m.onActions(payload(`s-${i}`, [slim("x", T0)]));
    expect(m.stats().sessionStore).toEqual({ sessions: 100, evicted: 900, expired: 0 });
    expect(await m.getState("s-999")).not.toBeNull();
    expect(await m.getState("s-0")).toBeNull();
    const closing = m.close();
    await vi.advanceTimersByTimeAsync(60_000);
    await closing;
  });

  it("refuses default-store options beside a given store, and a bad value, naming the option", () => {
    const sessionStore = new InMemorySessionStateStore();
    expect(() => new AutoplayChatbotManager({ writer, sessionStore, maxSessions: 5 })).toThrow(/maxSessions must be unset when sessionStore is given/);
    expect(() => new AutoplayChatbotManager({ writer, sessionStore, unlinkedStateTtlMs: 5 })).toThrow(/unlinkedStateTtlMs must be unset/);
    expect(() => new AutoplayChatbotManager({ writer, maxSessions: 0 })).toThrow(/maxSessions must be a whole number > 0/);
    expect(() => new AutoplayChatbotManager({ writer, unlinkedStateTtlMs: -1 })).toThrow(/unlinkedStateTtlMs/);
  });
});

describe("smaller ones (#7 l)", () => {
  it("an empty batch creates no session entry, saves nothing and does not call the writer", async () => {
    const outcome = await manager.onActions(payload("empty", []));
    expect(outcome).toEqual({ sessionId: "empty", accepted: 0, newActions: 0, duplicates: 0, trimmed: 0, conversationId: null });
    expect(await manager.getState("empty")).toBeNull();
    expect(writer.writes).toHaveLength(0);
    expect(manager.stats()).toMatchObject({ emptyBatches: 1, sessionStore: { sessions: 0 } });
    await expect(manager.onActions(payload("", []))).rejects.toBeInstanceOf(PayloadError);
  });

  it("after close() every call rejects with WriterClosedError", async () => {
    await manager.onActions(payload("s", [slim("a", T0)]));
    const state = (await manager.getState("s"))!;
    const closing = manager.close();
    await vi.advanceTimersByTimeAsync(60_000);
    await closing;
    const calls = [
      manager.onActions(payload("s", [slim("b", T0)])),
      manager.onActions(payload("s", [])),
      manager.onChatbotEvent("s", "c"),
      manager.saveState(state),
      manager.getState("s"),
      manager.saveState(new SessionState({ sessionId: "t" })),
    ];
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(WriterClosedError);
  });
});

describe("write outcomes (#7 a)", () => {
  it("reports how many actions were new and how many were duplicates (or trimmed)", async () => {
    const batch = [slim("a", T0, 1), slim("b", T0, 2), slim("c", T0, 3)];
    writer.outcomes.push({ accepted: 3, duplicates: 0, trimmed: 0 }, { accepted: 1, duplicates: 2, trimmed: 1 });
    expect(await manager.onActions(payload("s", batch))).toMatchObject({ accepted: 3, newActions: 3, duplicates: 0, trimmed: 0 });
    expect(await manager.onActions(payload("s", batch))).toMatchObject({ accepted: 3, newActions: 1, duplicates: 2, trimmed: 1 });
  });
});

describe("write outcomes with the engine's dedupe (#7 a)", () => {
  it("a replayed batch (new forwarded_at) counts its actions as duplicates, none new", async () => {
    const batch = [slim("a", T0 + 1, 1), slim("b", T0 + 2, 2)];
    expect(await manager.onActions(payload("s", batch))).toMatchObject({ accepted: 2, newActions: 2, duplicates: 0 });
    const replay = await manager.onActions(payload("s", batch, { forwarded_at: T0 + 30 }));
    expect(replay).toMatchObject({ accepted: 2, newActions: 0, duplicates: 2 });
    const mixed = await manager.onActions(payload("s", [slim("b", T0 + 2, 2), slim("c", T0 + 3, 3)]));
    expect(mixed).toMatchObject({ accepted: 2, newActions: 1, duplicates: 1 });
  });
});

describe("one parse, one limit (#8 item 3)", () => {
  /** 20,000 compact actions (a description and an index, no timestamp), about 38 bytes each. */
  function largeBody(): string {
    const actions = Array.from({ length: 20_000 }, (_, i) => ({ description: "Click", index: i }));
    return JSON.stringify({ type: "actions", session_id: "big", actions });
  }

  it("an already-parsed 20,000-action payload (~740 KiB body) is taken as is: no second parse, no second limit", async () => {
    const body = largeBody();
    expect(body.length).toBeGreaterThan(700 * 1024);
    expect(body.length).toBeLessThan(780 * 1024);
    const parsed = parseActionsPayload(body, { maxBytes: 2 * 1024 * 1024 });
    const outcome = await manager.onActions(parsed, { parsed: true });
    expect(outcome).toMatchObject({ sessionId: "big", accepted: 20_000, newActions: 20_000 });
    expect(writer.writes[0]![2]).toBe(parsed.actions); // the same objects, so the parser's marks survive:
    expect(wasDefaulted(writer.writes[0]![2][0]!)).toBe(true); // the timestamp was never sent
  });

  it("a raw body is parsed once with the caller's limit", async () => {
    const body = largeBody();
    await expect(manager.onActions(body, { maxBytes: 512 * 1024 })).rejects.toThrow(PayloadError);
    expect(await manager.onActions(body, { maxBytes: 1024 * 1024 })).toMatchObject({ accepted: 20_000 });
  });

  it("{ parsed: true } still refuses what is not an actions payload", async () => {
    await expect(manager.onActions(JSON.parse(largeBody()), { parsed: true })).resolves.toMatchObject({ accepted: 20_000 });
    for (const bad of [null, "{}", { type: "summary", actions: [] }, { type: "actions", actions: "x" }]) {
      await expect(manager.onActions(bad as never, { parsed: true })).rejects.toBeInstanceOf(PayloadError);
    }
  });
});
