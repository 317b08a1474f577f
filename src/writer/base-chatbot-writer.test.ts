import { describe, expect, it, vi } from "vitest";
import { PayloadError, WriterClosedError } from "../errors.js";
import { createTestWriter, type RecordingChatbotWriter } from "../testing/index.js";
import { slim } from "./test-support/actions.js";
import { useFakeWriterClock } from "./test-support/fake-clock.js";

const T0 = 1_718_000_000; // Unix seconds: 2024-06-10 06:13:20 UTC

let writer: RecordingChatbotWriter;

useFakeWriterClock(T0, () => writer);

describe("pre-link buffering and the at-link flush", () => {
  it("posts N pre-link batches as exactly one binned note at link", async () => {
    writer = createTestWriter();
    await writer.writeActions(null, "s-42", [slim("Opened Billing", T0)]);
    vi.advanceTimersByTime(1000);
    await writer.writeActions(null, "s-42", [slim("Clicked Upgrade", T0 + 1)]);
    vi.advanceTimersByTime(6000);
    await writer.writeActions(null, "s-42", [slim("Submitted card form", T0 + 7)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(writer.calls).toHaveLength(0);

    await writer.onSessionLinked("s-42", "conv-1");
    await writer.onIdle();
    expect(writer.notes.map((n) => [n.conversationId, n.body])).toEqual([
      [
        "conv-1",
        "session_id: s-42\ntimestamp: 2024-06-10 06:13:20 UTC\n\n" +
          // Epoch-aligned 3 s bins: 1718000000 is in bin 572666666, 1718000001 starts bin 572666667.
          "[1] Opened Billing\n\n[2] Clicked Upgrade\n\n[3] Submitted card form",
      ],
    ]);
  });

  it("never posts for a session that is never linked", async () => {
    writer = createTestWriter();
    for (let i = 0; i < 20; i++) {
      await writer.writeActions(null, "lonely", [slim(`a${i}`, T0 + i)]);
      await vi.advanceTimersByTimeAsync(1000);
    }
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(writer.calls).toHaveLength(0);
  });

  it("trims the window at its exact boundary on every arrival", async () => {
    writer = createTestWriter({ preLinkWindowMs: 10_000 });
    vi.setSystemTime((T0 + 10) * 1000);
    await writer.writeActions(null, "s", [slim("too old", T0 - 0.001), slim("at boundary", T0), slim("fresh", T0 + 9)]);
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.notes[0]?.body).toMatch(/\[1\] at boundary\n\n?\[2\] fresh$/);
    expect(writer.notes[0]?.body).not.toContain("too old");
    expect(writer.stats().actionsTrimmed).toBe(1);
  });

  it("stamps actions without a usable timestamp with their arrival time", async () => {
    writer = createTestWriter();
    await writer.writeActions(null, "s", [{ description: "no time" }, { description: "zero", timestamp_start: 0 }]);
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.notes[0]?.body).toBe(
      "session_id: s\ntimestamp: 2024-06-10 06:13:20 UTC\n\n[1] no time\n[2] zero",
    );
  });

  it("files far-future timestamps under their arrival time, so the window still trims them", async () => {
    writer = createTestWriter({ preLinkWindowMs: 10_000 });
    await writer.writeActions(null, "s", [slim("clock a day ahead", T0 + 86_400), slim("slightly ahead", T0 + 60)]);
    vi.setSystemTime((T0 + 30) * 1000);
    await writer.writeActions(null, "s", [slim("now", T0 + 30)]);
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.notes[0]?.body.split("\n\n")[1]).toBe("[1] now");
    expect(writer.notes[0]?.body).toContain("[2] slightly ahead");
    expect(writer.stats().actionsTrimmed).toBe(1);
  });

  it("flushes once when the same link arrives twice", async () => {
    writer = createTestWriter();
    await writer.writeActions(null, "s", [slim("a", T0)]);
    await writer.onSessionLinked("s", "c");
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.calls).toHaveLength(1);
  });

  it("posts nothing at link when nothing was buffered", async () => {
    writer = createTestWriter();
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.calls).toHaveLength(0);
  });

  it("never mutates or keeps the caller's action objects", async () => {
    writer = createTestWriter();
    const actions = [Object.freeze(slim("frozen", T0)), Object.freeze({ description: "no ts" })];
    await writer.writeActions(null, "s", actions);
    (actions as unknown[]).length = 0;
    await writer.onSessionLinked("s", "c");
    await writer.onIdle();
    expect(writer.notes[0]?.body).toContain("[1] frozen\n[2] no ts");
  });
});

describe("post-link debounce", () => {
  it("coalesces a burst into one unbinned note after the quiet period", async () => {
    writer = createTestWriter({ postLinkDebounceMs: 150, maxWaitMs: 10_000 });
    await writer.onSessionLinked("s", "c");
    for (let i = 0; i < 5; i++) {
      await writer.writeActions("c", "s", [slim(`click ${i}`, T0 + i * 5)]);
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(49);
    expect(writer.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.calls).toHaveLength(1);
    // Far apart in time, yet no blank lines: post-link notes are never binned.
    expect(writer.notes[0]?.body).toBe(
      "session_id: s\ntimestamp: 2024-06-10 06:13:20 UTC\n\n[1] click 0\n[2] click 1\n[3] click 2\n[4] click 3\n[5] click 4",
    );
  });

  it("uses the writer's link when writeActions gets no conversation id", async () => {
    writer = createTestWriter();
    await writer.onSessionLinked("s", "c");
    await writer.writeActions(null, "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150);
    expect(writer.notesIn("c")).toHaveLength(1);
  });

  it("treats a first writeActions with a conversation id as the link: flush first, then the burst", async () => {
    writer = createTestWriter();
    await writer.writeActions(null, "s", [slim("before", T0)]);
    await writer.writeActions("c", "s", [slim("after", T0 + 1)]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.notes.map((n) => n.body.split("\n\n")[1])).toEqual(["[1] before", "[1] after"]);
  });

  it("forces a note every maxWaitMs under a continuous stream, including an action 1 ms before the deadline", async () => {
    writer = createTestWriter({ postLinkDebounceMs: 150, maxWaitMs: 1000 });
    await writer.onSessionLinked("s", "c");
    await writer.writeActions("c", "s", [slim("t0", T0)]);
    for (let t = 100; t < 1000; t += 100) {
      await vi.advanceTimersByTimeAsync(100);
      await writer.writeActions("c", "s", [slim(`t${t}`, T0 + t / 1000)]);
    }
    await vi.advanceTimersByTimeAsync(99);
    await writer.writeActions("c", "s", [slim("t999", T0 + 0.999)]);
    expect(writer.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.calls).toHaveLength(1);
    expect(writer.calls[0]?.body.split("\n").slice(3)).toHaveLength(11);
    expect(writer.calls[0]?.body).toMatch(/t999$/);

    // The stream goes on: notes keep coming every maxWaitMs.
    for (let t = 0; t < 3000; t += 100) {
      await writer.writeActions("c", "s", [slim(`u${t}`, T0 + 1 + t / 1000)]);
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(writer.calls.length).toBeGreaterThanOrEqual(3);
  });

  it("puts actions that arrive while the flush is in flight into a later note, never before it", async () => {
    writer = createTestWriter();
    writer.delayNext(500);
    await writer.writeActions(null, "s", [slim("pre", T0)]);
    await writer.onSessionLinked("s", "c");
    await vi.advanceTimersByTimeAsync(10);
    await writer.writeActions("c", "s", [slim("during flush", T0 + 1)]);
    await vi.advanceTimersByTimeAsync(300); // debounce ends while the flush is still in flight
    expect(writer.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(300);
    await writer.onIdle();
    expect(writer.notes.map((n) => n.body.split("\n\n")[1])).toEqual(["[1] pre", "[1] during flush"]);
    expect(writer.maxConcurrentPerSession).toBe(1);
  });

  it("never makes one session wait for another", async () => {
    writer = createTestWriter();
    writer.hangNext();
    await writer.writeActions("c1", "slow", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(150);
    await writer.writeActions("c2", "fast", [slim("b", T0)]);
    await vi.advanceTimersByTimeAsync(150);
    expect(writer.notesIn("c2")).toHaveLength(1);
  });
});

describe("flush", () => {
  it("resolves once what was owed is posted, even under a continuous stream to a slow platform", async () => {
    writer = createTestWriter({ postLinkDebounceMs: 20, maxWaitMs: 50 });
    for (let i = 0; i < 100; i++) writer.delayNext(40);
    await writer.writeActions("c", "s", [slim("owed", T0)]);
    let flushed = false;
    const flushing = writer.flush().then(() => (flushed = true));
    for (let i = 0; i < 50 && !flushed; i++) {
      await writer.writeActions("c", "s", [slim(`more ${i}`, T0 + i)]);
      await vi.advanceTimersByTimeAsync(10);
    }
    await flushing;
    expect(writer.notes[0]?.body).toContain("[1] owed");
  });
});

describe("relinking", () => {
  it("sends later notes, and notes still owed, to the new conversation", async () => {
    writer = createTestWriter({ retry: { baseDelayMs: 1000, jitter: 0 } });
    writer.failNext(1);
    await writer.writeActions(null, "s", [slim("pre", T0)]);
    await writer.onSessionLinked("s", "A");
    await vi.advanceTimersByTimeAsync(10); // the flush to A failed; its retry waits 1 s
    await writer.onSessionLinked("s", "B");
    await writer.writeActions(null, "s", [slim("post", T0 + 5)]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(writer.calls.map((c) => [c.conversationId, c.outcome])).toEqual([
      ["A", "failed"],
      ["B", "delivered"],
      ["B", "delivered"],
    ]);
    expect(await writer.linkedConversation("s")).toBe("B");
  });
});

describe("input validation", () => {
  it("rejects an empty session id rather than sharing a buffer", async () => {
    writer = createTestWriter();
    await expect(writer.writeActions(null, "", [slim("a", T0)])).rejects.toBeInstanceOf(PayloadError);
    await expect(writer.writeActions("c", null as unknown as string, [slim("a", T0)])).rejects.toThrow(/session_id/);
    await expect(writer.onSessionLinked("s", "")).rejects.toThrow(/conversation_id/);
    await expect(writer.writeActions(null, "s", "nope" as never)).rejects.toThrow(/array/);
  });

  it("rejects bad options with a TypeError naming the option", () => {
    expect(() => createTestWriter({ postLinkDebounceMs: -1 })).toThrow(/postLinkDebounceMs/);
    expect(() => createTestWriter({ productId: "" })).toThrow(/productId/);
    expect(() => createTestWriter({ retry: { maxAttempts: 0 } })).toThrow(/retry\.maxAttempts/);
    expect(() => createTestWriter({ binSeconds: Number.NaN })).toThrow(/binSeconds/);
  });
});

describe("close", () => {
  it("delivers open debounce windows, stops intake, and is safe to call twice", async () => {
    writer = createTestWriter({ postLinkDebounceMs: 5000 });
    await writer.writeActions("c", "s", [slim("pending", T0)]);
    const first = writer.close();
    const second = writer.close();
    await expect(writer.writeActions("c", "s", [slim("late", T0)])).rejects.toBeInstanceOf(WriterClosedError);
    await vi.advanceTimersByTimeAsync(0);
    expect(await first).toEqual({ deadLettered: 0, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 0, unlinkedSessions: 0 });
    expect(second).toBe(first);
    expect(writer.notes).toHaveLength(1);
  });

  it("keeps part ids readable after close", async () => {
    writer = createTestWriter();
    await writer.writeActions("c", "s", [slim("a", T0)]);
    const closing = writer.close();
    await vi.runAllTimersAsync();
    await closing;
    expect(await writer.getPartIds("s")).toEqual(["part-1"]);
  });

  it("waits for a post in flight at close and delivers it", async () => {
    writer = createTestWriter();
    writer.delayNext(3000);
    await writer.writeActions("c", "s", [slim("in flight", T0)]);
    await vi.advanceTimersByTimeAsync(200);
    const closing = writer.close();
    await vi.advanceTimersByTimeAsync(3000);
    expect(await closing).toMatchObject({ deadLettered: 0 });
    expect(writer.notes).toHaveLength(1);
  });

  it("reports never-linked actions instead of dropping them silently", async () => {
    writer = createTestWriter();
    await writer.writeActions(null, "s1", [slim("a", T0), slim("b", T0)]);
    await writer.writeActions(null, "s2", [slim("c", T0)]);
    expect(await writer.close()).toEqual({ deadLettered: 0, unconfirmed: 0, leftInRedis: 0, unlinkedActions: 3, unlinkedSessions: 2 });
  });

  it("dead-letters what is still undelivered when the drain times out", async () => {
    writer = createTestWriter({ closeTimeoutMs: 1000, retry: { baseDelayMs: 5000, jitter: 0 } });
    writer.failNext(1);
    await writer.writeActions("c", "s", [slim("a", T0)]);
    const closing = writer.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect((await closing).deadLettered).toBe(1);
    expect((await writer.deadLetters())[0]?.reason).toBe("shutdown");
  });
});

describe("part ids and expiry", () => {
  it("records part ids per session in order, and can take them", async () => {
    writer = createTestWriter();
    for (let i = 0; i < 3; i++) {
      await writer.writeActions("c", "s", [slim(`a${i}`, T0 + i)]);
      await vi.advanceTimersByTimeAsync(200);
    }
    writer.script({ kind: "ok", partId: null });
    await writer.writeActions("c", "s", [slim("no id", T0 + 9)]);
    await vi.advanceTimersByTimeAsync(200);
    expect(await writer.getPartIds("s")).toEqual(["part-1", "part-2", "part-3"]);
    expect(await writer.takePartIds("s")).toEqual(["part-1", "part-2", "part-3"]);
    expect(await writer.getPartIds("s")).toEqual([]);
  });

  it("holds no per-session entry after 100,000 sessions go idle past the expiry", async () => {
    // Real timers (fake ones slow down with 100,000 pending timers) and an injected wall clock.
    vi.useRealTimers();
    let clock = T0 * 1000;
    writer = createTestWriter({ postLinkDebounceMs: 1, sessionIdleTtlMs: 60_000, sweepIntervalMs: 20, now: () => clock });
    for (let i = 0; i < 100_000; i++) {
      const conversation = i % 2 === 0 ? `c${i}` : null;
      await writer.writeActions(conversation, `s${i}`, [slim("x", T0)]);
    }
    expect(writer.stats().sessions).toBe(100_000);
    await writer.onIdle();
    expect(writer.stats().notesPosted).toBe(50_000);
    clock += 120_001; // past the pre-link window and the idle TTL
    await vi.waitFor(() => expect(writer.stats().sessions).toBe(0), { timeout: 5000, interval: 10 });
    expect(writer.stats().actionsExpired + writer.stats().actionsTrimmed).toBe(50_000);
    vi.useFakeTimers();
  });

  it("keeps a linked session delivering after its writer entry expired", async () => {
    writer = createTestWriter({ sessionIdleTtlMs: 1000, sweepIntervalMs: 500 });
    await writer.writeActions("c", "s", [slim("a", T0)]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(writer.stats().sessions).toBe(0);
    await writer.writeActions("c", "s", [slim("b", T0 + 5)]);
    await vi.advanceTimersByTimeAsync(200);
    expect(writer.notesIn("c")).toHaveLength(2);
  });
});
