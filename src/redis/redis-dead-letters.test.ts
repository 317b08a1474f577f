import { describe, expect, it, vi } from "vitest";
import { ConversationGoneError, PermanentDeliveryError } from "../errors.js";
import type { DeadLetter, WriterEvents } from "../writer/events.js";
import { slim } from "../writer/test-support/actions.js";
import { linesOf, redisTestBed, type KeyedWriter } from "./test-support/harness.js";

// Issue 7 (d) dead letters in the shared list, (f) a conversation that is gone.
const bed = redisTestBed("dead-letters");
const T0 = Math.floor(Date.now() / 1000);
const refuse = () => Promise.reject(new PermanentDeliveryError("400 bad request", { status: 400 }));

async function deadLetter(w: KeyedWriter, sessionId: string, description: string): Promise<void> {
  const before = w.stats().deadLettered;
  w.next(refuse);
  await w.onSessionLinked(sessionId, `conv-${sessionId}`);
  await w.writeActions(null, sessionId, [slim(description, T0, 0)]);
  await vi.waitFor(() => expect(w.stats().deadLettered).toBe(before + 1), { timeout: 3000 });
}

describe("shared dead letters (d)", () => {
  it("lets any instance read, take (atomically) and re-drive the letters another instance wrote", async () => {
    const a = bed.make();
    const b = bed.make();
    const reported: DeadLetter[] = [];
    a.on("dead-lettered", (l) => reported.push(l));
    b.on("dead-lettered", (l) => reported.push(l));
    await deadLetter(a, "s1", "one");
    await deadLetter(a, "s2", "two");
    expect(reported.map((l) => l.sessionId)).toEqual(["s1", "s2"]); // once each, by the writer
    expect(b.stats().deadLettered).toBe(0);

    const seen = await b.deadLetters();
    expect(seen.map((l) => l.actions[0]?.description)).toEqual(["one", "two"]);
    expect(b.stats().deadLetters).toBe(2);

    const outcome = await b.redriveDeadLetters([seen[0]?.id ?? "", "no-such-id"]);
    expect(outcome).toEqual({ requeued: 1, actions: 1, missing: ["no-such-id"], skipped: [] });
    await vi.waitFor(() => expect(linesOf([...a.delivered, ...b.delivered])).toEqual(["one"]), { timeout: 3000 });
    expect((await a.deadLetters()).map((l) => l.sessionId)).toEqual(["s2"]);

    const [takenByA, takenByB] = await Promise.all([a.takeDeadLetters(), b.takeDeadLetters()]);
    expect([...takenByA, ...takenByB].map((l) => l.sessionId)).toEqual(["s2"]);
    expect(await b.deadLetters()).toEqual([]);
    expect(b.stats().deadLetters).toBe(0);
  });

  it("re-drives a letter once when two instances re-drive it at the same time", async () => {
    const a = bed.make();
    const b = bed.make();
    await deadLetter(a, "s", "again");
    const [ra, rb] = await Promise.all([a.redriveDeadLetters(), b.redriveDeadLetters()]);
    expect(ra.requeued + rb.requeued).toBe(1);
    await vi.waitFor(() => expect(linesOf([...a.delivered, ...b.delivered])).toEqual(["again"]), { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 150));
    expect(linesOf([...a.delivered, ...b.delivered])).toEqual(["again"]);
  });

  it("bounds the list by count and by bytes, oldest first, and counts evictions", async () => {
    const byCount = bed.make({ maxDeadLetters: 2 });
    for (const s of ["s1", "s2", "s3"]) await deadLetter(byCount, s, `letter ${s}`);
    expect((await byCount.deadLetters()).map((l) => l.sessionId)).toEqual(["s2", "s3"]);
    expect(byCount.stats().deadLettersEvicted).toBe(1);
    await byCount.takeDeadLetters();
    // A second live writer on the same keys would claim (and deliver) some of bySize's notes.
    await byCount.close();

    const bySize = bed.make({ maxDeadLetterBytes: 1500 });
    for (const s of ["t1", "t2", "t3", "t4"]) await deadLetter(bySize, s, "x".repeat(200));
    const kept = (await bySize.deadLetters()).map((l) => JSON.stringify(l).length);
    expect(kept.reduce((n, b) => n + b, 0)).toBeLessThanOrEqual(1500);
    expect(bySize.stats().deadLettersEvicted).toBe(4 - kept.length);
    expect(kept.length).toBeGreaterThan(0);
  });
});

describe("conversation gone (f)", () => {
  it("after an unlink, pre-link keys expire with the newest action moved back, not an older one remembered", async () => {
    const windowMs = 300_000;
    const w = bed.make({ postLinkDebounceMs: 30, preLinkWindowMs: windowMs });
    let release: () => void = () => undefined;
    w.next(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      throw new ConversationGoneError("404 conversation not found", { status: 404 });
    });
    await w.writeActions(null, "s", [slim("old, before the link", T0 - 200, 0)]);
    await w.onSessionLinked("s", "gone-conv");
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("new", T0, 1)]);
    release();
    // The first note (the flush) answered gone: "new" is back in pre. A later write of an older action
    // must keep pre for "new"'s window, not for the newest stamp meta knew before the link.
    await vi.waitFor(async () => expect(await w.linkedConversation("s")).toBeNull(), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("older", T0 - 100, 2)]);
    const pttl = Number(await bed.redis.sendCommand(["PTTL", `${bed.prefix}s:s:pre`]));
    expect(pttl).toBeGreaterThan(T0 * 1000 + windowMs - Date.now() - 5000);
  });

  it("dead-letters the note, unlinks the session, keeps later actions pre-link, and relinks only on onSessionLinked", async () => {
    const w = bed.make({ postLinkDebounceMs: 30 });
    const unlinked: Array<WriterEvents["unlinked"]> = [];
    w.on("unlinked", (e) => unlinked.push(e));
    let release: () => void = () => undefined;
    w.next(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      throw new ConversationGoneError("404 conversation not found", { status: 404 });
    });
    await w.onSessionLinked("s", "gone-conv");
    await w.writeActions(null, "s", [slim("first", T0 - 3, 0)]);
    await vi.waitFor(() => expect(w.calls).toHaveLength(1), { timeout: 3000 });
    await w.writeActions(null, "s", [slim("while posting", T0 - 2, 1)]);
    release();
    await vi.waitFor(() => expect(unlinked).toHaveLength(1), { timeout: 3000 });
    expect(unlinked[0]).toMatchObject({ sessionId: "s", conversationId: "gone-conv", reason: "conversation_gone", bufferedActions: 1 });
    expect(w.stats().unlinked).toBe(1);
    expect((await w.deadLetters())[0]).toMatchObject({ reason: "conversation_gone", actions: [{ description: "first" }] });
    expect(await w.linkedConversation("s")).toBeNull();
    // Its letter stays while the session has no conversation to take it.
    const letterId = (await w.deadLetters())[0]?.id ?? "";
    expect(await w.redriveDeadLetters()).toEqual({ requeued: 0, actions: 0, missing: [], skipped: [letterId] });
    expect((await w.deadLetters()).map((l) => l.id)).toEqual([letterId]);

    // A write naming the gone conversation (an instance holding an older state) does not re-link.
    await w.writeActions("gone-conv", "s", [slim("later", T0 - 1, 2)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.calls).toHaveLength(1);
    expect(await w.linkedConversation("s")).toBeNull();

    await w.onSessionLinked("s", "new-conv");
    await vi.waitFor(() => expect(w.delivered).toHaveLength(1), { timeout: 3000 });
    expect(w.delivered[0]?.conversationId).toBe("new-conv");
    expect(linesOf(w.delivered)).toEqual(["while posting", "later"]);
  });
});
