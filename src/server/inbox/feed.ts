/**
 * The live inbox's model: what the page shows (sessions, conversations with their notes, dead
 * letters), kept from the writer's events, and the frames its server-sent-events feed pushes.
 * A view, not a store: bounded, and it forgets sessions idle for a while.
 */
import { deadLetterToWire, type DeadLetterWire } from "../dead-letter-wire.js";
import type { DeadLetter, NoteKind } from "../../writer/events.js";
import type { InboxChange, InboxNote, InboxWriter } from "../inbox-writer.js";

/** One session as the page shows it (`session` frames). */
export interface SessionView {
  session_id: string;
  /** The assistance FSM state ("thinking", "proactive_assistance", "reactive_assistance"), or null when the state is not stored. */
  state: string | null;
  linked: boolean;
  conversation_id: string | null;
  /** Actions accepted and not yet delivered: the pre-link buffer, or the open debounce window. */
  buffered_actions: number;
  /** Last batch, link or note of the session, ISO 8601. */
  last_activity_at: string;
}

/** A note on the wire. */
export interface NoteView {
  id: string;
  session_id: string;
  /** "flush" (the pre-link buffer, posted at the link) or "debounced" (a burst after it); null when unknown. */
  kind: NoteKind | null;
  body: string;
  at: string;
}

/** One conversation in a snapshot. */
export interface ConversationView {
  conversation_id: string;
  session_id: string | null;
  notes: NoteView[];
}

/** A dead letter as the page shows it: the service's one wire form (the fields of `GET /dead-letters`). */
export type DeadLetterView = DeadLetterWire;

/** Everything the page shows (`snapshot` frame). */
export interface InboxSnapshot {
  sessions: SessionView[];
  conversations: ConversationView[];
  dead_letters: DeadLetterView[];
}

/** One server-sent event: its `event:` name and its `data:` JSON. */
export type FeedFrame =
  | { event: "snapshot"; data: InboxSnapshot }
  | { event: "session"; data: SessionView }
  | { event: "session-removed"; data: { session_id: string } }
  | { event: "note"; data: { conversation_id: string; note: NoteView } }
  | { event: "redacted"; data: { conversation_id: string; note_id: string } }
  | { event: "dead-letters"; data: { count: number; dead_letters: DeadLetterView[] } };

/** Options of {@link InboxFeed}. */
export interface InboxFeedOptions {
  writer: InboxWriter;
  /** The session's FSM state name, or null when none is stored (the manager's `getState`). */
  stateOf: (sessionId: string) => Promise<string | null>;
  now?: () => number;
  /** Sessions shown at most; the least recently active is dropped first. @default 200 */
  maxSessions?: number;
  /** A session idle this long leaves the page, in ms. @default 300_000 */
  sessionIdleMs?: number;
  /** Conversations in a snapshot at most (the most recent). @default 50 */
  maxConversations?: number;
  /** Notes per conversation in a snapshot at most (the newest). @default 100 */
  maxNotes?: number;
  /** Dead letters in a frame at most (the newest). @default 100 */
  maxDeadLetters?: number;
  /** How often idle sessions are dropped and the dead-letter count is compared, in ms. @default 2_000 */
  sweepMs?: number;
}

/**
 * A session as the feed keeps it: its view without the formatted time. The time is formatted
 * only when a view leaves the feed (a frame, a snapshot), not on every batch.
 */
type TrackedSession = Omit<SessionView, "last_activity_at"> & { lastActivityMs: number };

/** The inbox page's model and the source of its feed's frames. */
export class InboxFeed {
  readonly #writer: InboxWriter;
  readonly #stateOf: (sessionId: string) => Promise<string | null>;
  readonly #now: () => number;
  /** Sessions on the page, least recently active first. */
  readonly #sessions = new Map<string, TrackedSession>();
  readonly #listeners = new Set<(frame: FeedFrame) => void>();
  readonly #dirty = new Set<string>();
  /** Sessions changed while no page was watching: their FSM state is read when a snapshot is taken. */
  readonly #stale = new Set<string>();
  /** Notes posted whose `delivered` event (which names their kind) has not come yet. */
  readonly #undelivered = new Map<string, { conversationId: string; note: InboxNote; sweep: number }>();
  /** Note id → kind, for snapshots (bounded, oldest forgotten first). */
  readonly #kinds = new Map<string, NoteKind>();
  readonly #unsubscribe: Array<() => void>;
  readonly #timer: NodeJS.Timeout;
  readonly #o: Required<Omit<InboxFeedOptions, "writer" | "stateOf" | "now">>;
  #deadLetterCount = 0;
  #sweeps = 0;
  #refreshing = false;

  constructor(options: InboxFeedOptions) {
    this.#writer = options.writer;
    this.#stateOf = options.stateOf;
    this.#now = options.now ?? Date.now;
    this.#o = {
      maxSessions: options.maxSessions ?? 200,
      sessionIdleMs: options.sessionIdleMs ?? 300_000,
      maxConversations: options.maxConversations ?? 50,
      maxNotes: options.maxNotes ?? 100,
      maxDeadLetters: options.maxDeadLetters ?? 100,
      sweepMs: options.sweepMs ?? 2_000,
    };
    const w = this.#writer;
    this.#unsubscribe = [
      w.subscribe((change) => this.#onChange(change)),
      w.on("linked", (e) => this.#update(e.sessionId, (s) => Object.assign(s, { linked: true, conversation_id: e.conversationId, buffered_actions: e.bufferedActions }))),
      w.on("delivered", (e) => {
        this.#update(e.sessionId, (s) => (s.buffered_actions = Math.max(0, s.buffered_actions - e.actionCount)));
        if (e.partId !== null) this.#noteDelivered(e.partId, e.kind);
      }),
      w.on("unlinked", (e) => this.#update(e.sessionId, (s) => Object.assign(s, { linked: false, conversation_id: null, buffered_actions: e.bufferedActions }))),
      w.on("dead-lettered", (letter) => {
        this.#update(letter.sessionId, (s) => (s.buffered_actions = Math.max(0, s.buffered_actions - letter.actions.length)));
        void this.#refreshDeadLetters();
      }),
    ];
    this.#timer = setInterval(() => this.#sweep(), this.#o.sweepMs);
    this.#timer.unref();
  }

  /** Subscribes to the frames that follow; returns the unsubscribe function. */
  subscribe(listener: (frame: FeedFrame) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sessions on the page whose FSM state is read at the next snapshot (changed while no page watched). */
  get staleStates(): number {
    return this.#stale.size;
  }

  /** Whether the session is on the page. */
  has(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  /** The session as shown, or undefined. */
  session(sessionId: string): SessionView | undefined {
    const tracked = this.#sessions.get(sessionId);
    return tracked === undefined ? undefined : sessionView(tracked);
  }

  /** What the page shows now: sessions (most recently active first), conversations (oldest first), dead letters. */
  async snapshot(): Promise<InboxSnapshot> {
    for (const id of [...this.#stale]) {
      this.#stale.delete(id);
      const view = this.#sessions.get(id);
      if (view !== undefined) view.state = await this.#stateOf(id).catch(() => view.state);
    }
    const sessions = [...this.#sessions.values()].reverse().map(sessionView);
    const conversations = Object.entries(this.#writer.snapshot())
      .slice(-this.#o.maxConversations)
      .map(([conversationId, notes]) => ({
        conversation_id: conversationId,
        session_id: notes.at(-1)?.sessionId ?? null,
        notes: notes.slice(-this.#o.maxNotes).map((n) => noteView(n, this.#kinds.get(n.id) ?? null)),
      }));
    const letters = await this.#writer.deadLetters().catch(() => []);
    return { sessions, conversations, dead_letters: letters.slice(-this.#o.maxDeadLetters).map(deadLetterView) };
  }

  /** Stops listening to the writer and the sweep. */
  close(): void {
    for (const off of this.#unsubscribe) off();
    clearInterval(this.#timer);
    this.#listeners.clear();
  }

  #onChange(change: InboxChange): void {
    if (change.type === "actions") {
      // Every batch comes here: no closure, no allocation for a session already on the page.
      const { outcome } = change;
      const s = this.#touch(change.sessionId);
      s.buffered_actions = Math.max(0, s.buffered_actions + outcome.accepted - (s.linked ? 0 : outcome.trimmed));
    } else if (change.type === "note") {
      // Sent once `delivered` names its kind (right after), or by the next sweep without it.
      this.#undelivered.set(change.note.id, { conversationId: change.conversationId, note: change.note, sweep: this.#sweeps });
    } else {
      this.#emit({ event: "redacted", data: { conversation_id: change.conversationId, note_id: change.noteId } });
    }
  }

  /** Applies `change` to the session (see {@link #touch}). */
  #update(sessionId: string, change: (session: TrackedSession) => unknown): void {
    change(this.#touch(sessionId));
  }

  /**
   * The session, created on first sight, made the most recently active, with its frame
   * scheduled: the caller changes it right after (before the frame is sent, on a later turn).
   */
  #touch(sessionId: string): TrackedSession {
    let tracked = this.#sessions.get(sessionId);
    if (tracked === undefined) {
      tracked = { session_id: sessionId, state: null, linked: false, conversation_id: null, buffered_actions: 0, lastActivityMs: 0 };
    } else {
      this.#sessions.delete(sessionId);
    }
    tracked.lastActivityMs = this.#now();
    this.#sessions.set(sessionId, tracked);
    if (this.#sessions.size > this.#o.maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#remove(oldest);
    }
    this.#dirty.add(sessionId);
    if (this.#dirty.size === 1) setImmediate(() => void this.#flushDirty());
    return tracked;
  }

  /** Sends one `session` frame per changed session, with its FSM state read once per burst. */
  async #flushDirty(): Promise<void> {
    const ids = [...this.#dirty];
    this.#dirty.clear();
    if (this.#listeners.size === 0) {
      // Nobody watches: a state read per burst (a Redis GET in Redis mode) would be wasted.
      for (const id of ids) if (this.#sessions.has(id)) this.#stale.add(id);
      return;
    }
    for (const id of ids) {
      const tracked = this.#sessions.get(id);
      if (tracked === undefined) continue;
      tracked.state = await this.#stateOf(id).catch(() => tracked.state);
      if (this.#sessions.get(id) === tracked) this.#emit({ event: "session", data: sessionView(tracked) });
    }
  }

  #noteDelivered(noteId: string, kind: NoteKind | null): void {
    const posted = this.#undelivered.get(noteId);
    if (posted === undefined) return;
    this.#undelivered.delete(noteId);
    if (kind !== null) {
      this.#kinds.set(noteId, kind);
      const oldest = this.#kinds.keys().next().value;
      if (this.#kinds.size > 10_000 && oldest !== undefined) this.#kinds.delete(oldest);
    }
    this.#emit({ event: "note", data: { conversation_id: posted.conversationId, note: noteView(posted.note, kind) } });
  }

  #remove(sessionId: string): void {
    this.#sessions.delete(sessionId);
    this.#stale.delete(sessionId);
    this.#emit({ event: "session-removed", data: { session_id: sessionId } });
  }

  #sweep(): void {
    this.#sweeps++;
    for (const [id, posted] of [...this.#undelivered]) if (posted.sweep < this.#sweeps - 1) this.#noteDelivered(id, null);
    const cutoff = this.#now() - this.#o.sessionIdleMs;
    for (const [id, tracked] of this.#sessions) {
      if (tracked.lastActivityMs >= cutoff) break;
      this.#remove(id);
    }
    // Re-drives and other instances change the dead letters without an event here.
    if (this.#listeners.size > 0 && this.#writer.stats().deadLetters !== this.#deadLetterCount) void this.#refreshDeadLetters();
  }

  async #refreshDeadLetters(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const letters = await this.#writer.deadLetters();
      this.#deadLetterCount = letters.length;
      this.#emit({ event: "dead-letters", data: { count: letters.length, dead_letters: letters.slice(-this.#o.maxDeadLetters).map(deadLetterView) } });
    } catch {
      // The next sweep tries again.
    } finally {
      this.#refreshing = false;
    }
  }

  #emit(frame: FeedFrame): void {
    for (const listener of this.#listeners) {
      try {
        listener(frame);
      } catch {
        // One slow or broken page must not stop the others.
      }
    }
  }
}

function sessionView(s: TrackedSession): SessionView {
  return {
    session_id: s.session_id,
    state: s.state,
    linked: s.linked,
    conversation_id: s.conversation_id,
    buffered_actions: s.buffered_actions,
    last_activity_at: new Date(s.lastActivityMs).toISOString(),
  };
}

function noteView(note: InboxNote, kind: NoteKind | null): NoteView {
  return { id: note.id, session_id: note.sessionId, kind, body: note.body, at: note.at };
}

function deadLetterView(letter: DeadLetter): DeadLetterView {
  return deadLetterToWire(letter);
}
