import { afterEach, describe, expect, it } from "vitest";
import { PermanentDeliveryError } from "../../errors.js";
import type { PostContext } from "../../writer/base-chatbot-writer.js";
import { InboxWriter } from "../inbox-writer.js";
import { InboxFeed, type FeedFrame } from "./feed.js";

/** An inbox whose conversation "conv-gone" refuses notes, and whose notes can be redacted. */
class TestInbox extends InboxWriter {
  redact(conversationId: string, partId: string): Promise<void> {
    return this.redactPart(conversationId, partId);
  }

  protected override postNote(conversationId: string, body: string, context: PostContext): Promise<string> {
    if (conversationId === "conv-gone") return Promise.reject(new PermanentDeliveryError("refused", { status: 403 }));
    return super.postNote(conversationId, body, context);
  }
}

const T0 = 1_700_000_000;
let writer: TestInbox;
let feed: InboxFeed;
let frames: FeedFrame[];
let clock = T0 * 1000;

function start(options: { sessionIdleMs?: number; maxSessions?: number } = {}): void {
  clock = T0 * 1000;
  writer = new TestInbox({ productId: "p", postLinkDebounceMs: 0, now: () => clock });
  feed = new InboxFeed({ writer, stateOf: async () => "thinking", now: () => clock, sweepMs: 10, ...options });
  frames = [];
  feed.subscribe((frame) => frames.push(frame));
}

afterEach(async () => {
  feed.close();
  await writer.close();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 40));
const action = (i: number, description: string) => ({ index: i, description, timestamp_start: T0 + i });

describe("InboxFeed", () => {
  it("counts buffered actions per session: up on arrival, set at the link, down as notes are delivered", async () => {
    start();
    await writer.writeActions(null, "s-1", [action(0, "a"), action(1, "b")]);
    await settle();
    expect(feed.session("s-1")).toMatchObject({ linked: false, buffered_actions: 2, state: "thinking" });
    await writer.onSessionLinked("s-1", "conv-1");
    await writer.onIdle();
    await settle();
    expect(feed.session("s-1")).toMatchObject({ linked: true, conversation_id: "conv-1", buffered_actions: 0 });
    const note = frames.find((f) => f.event === "note");
    expect(note?.data).toMatchObject({ conversation_id: "conv-1", note: { id: "note-1", session_id: "s-1", kind: "flush" } });
  });

  it("reads no session state while no page watches, and reads it for the next snapshot", async () => {
    clock = T0 * 1000;
    writer = new TestInbox({ productId: "p", postLinkDebounceMs: 0, now: () => clock });
    const reads: string[] = [];
    feed = new InboxFeed({ writer, stateOf: async (id) => (reads.push(id), "thinking"), now: () => clock, sweepMs: 10 });
    for (let i = 0; i < 3; i++) await writer.writeActions(null, "s-quiet", [action(i, "a")]);
    await settle();
    expect(reads).toEqual([]);
    const snapshot = await feed.snapshot();
    expect(snapshot.sessions).toMatchObject([{ session_id: "s-quiet", state: "thinking", buffered_actions: 3 }]);
    expect(reads).toEqual(["s-quiet"]);
    await feed.snapshot();
    expect(reads).toHaveLength(1);
  });

  it("keeps no stale mark for a session that left the page while nobody watched", async () => {
    clock = T0 * 1000;
    writer = new TestInbox({ productId: "p", postLinkDebounceMs: 0, now: () => clock });
    const reads: string[] = [];
    feed = new InboxFeed({ writer, stateOf: async (id) => (reads.push(id), "thinking"), now: () => clock, sweepMs: 10, maxSessions: 2 });
    for (let i = 0; i < 5; i++) await writer.writeActions(null, `s-${i}`, [action(i, "a")]);
    await settle();
    expect(feed.staleStates).toBe(2);
    await feed.snapshot();
    expect(feed.staleStates).toBe(0);
    expect(reads.sort()).toEqual(["s-3", "s-4"]);
  });

  it("sends redactions and dead letters as they happen", async () => {
    start();
    await writer.writeActions(null, "s-1", [action(0, "a")]);
    await writer.onSessionLinked("s-1", "conv-1");
    await writer.onIdle();
    await writer.redact("conv-1", "note-1");
    expect(frames.filter((f) => f.event === "redacted").map((f) => f.data)).toEqual([{ conversation_id: "conv-1", note_id: "note-1" }]);
    expect((await feed.snapshot()).conversations).toEqual([{ conversation_id: "conv-1", session_id: null, notes: [] }]);

    await writer.writeActions(null, "s-2", [action(0, "lost")]);
    await writer.onSessionLinked("s-2", "conv-gone");
    await writer.onIdle();
    await settle();
    const letters = frames.filter((f) => f.event === "dead-letters");
    expect(letters.at(-1)?.data).toMatchObject({ count: 1, dead_letters: [{ session_id: "s-2", conversation_id: "conv-gone", reason: "permanent_error", actions: [{ description: "lost" }] }] });
    expect(feed.session("s-2")?.buffered_actions).toBe(0);
    expect((await feed.snapshot()).dead_letters).toHaveLength(1);
  });

  it("drops sessions idle past sessionIdleMs, and the least recently active beyond maxSessions", async () => {
    start({ sessionIdleMs: 1_000, maxSessions: 2 });
    await writer.writeActions(null, "s-1", [action(0, "a")]);
    await writer.writeActions(null, "s-2", [action(0, "a")]);
    await writer.writeActions(null, "s-3", [action(0, "a")]);
    expect(frames.filter((f) => f.event === "session-removed").map((f) => f.data)).toEqual([{ session_id: "s-1" }]);
    clock += 500;
    await writer.writeActions(null, "s-3", [action(1, "b")]);
    clock += 600;
    await settle();
    expect(feed.has("s-2")).toBe(false);
    expect(feed.has("s-3")).toBe(true);
    expect((await feed.snapshot()).sessions.map((s) => s.session_id)).toEqual(["s-3"]);
  });

  it("reports each session's last activity as an ISO time, in frames, snapshots and lookups", async () => {
    start();
    await writer.writeActions(null, "s-1", [action(0, "a")]);
    clock += 1_500;
    await writer.writeActions(null, "s-1", [action(1, "b")]);
    await settle();
    const at = new Date(clock).toISOString();
    const sessionFrames = frames.filter((f) => f.event === "session").map((f) => f.data);
    expect(sessionFrames.at(-1)).toMatchObject({ session_id: "s-1", buffered_actions: 2, last_activity_at: at });
    expect(feed.session("s-1")?.last_activity_at).toBe(at);
    expect((await feed.snapshot()).sessions[0]?.last_activity_at).toBe(at);
    // A view handed out is a copy: changing it changes nothing on the page.
    feed.session("s-1")!.buffered_actions = 99;
    expect(feed.session("s-1")?.buffered_actions).toBe(2);
  });
});
