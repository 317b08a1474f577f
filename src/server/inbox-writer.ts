import type { NoteAction } from "../payloads/types.js";
import { BaseChatbotWriter, type PostContext } from "../writer/base-chatbot-writer.js";
import type { WriteOutcome } from "../writer/delivery-engine.js";
import type { ChatbotWriterOptions } from "../writer/options.js";

/** One note in the embedded inbox. */
export interface InboxNote {
  id: string;
  sessionId: string;
  body: string;
  /** When it was posted, ISO 8601. */
  at: string;
}

/** What changed in the inbox, for a live view (the inbox page's feed). */
export type InboxChange =
  | { type: "note"; conversationId: string; note: InboxNote }
  | { type: "redacted"; conversationId: string; noteId: string }
  | { type: "actions"; sessionId: string; conversationId: string | null; outcome: WriteOutcome; at: number };

/**
 * The embedded destination (`DESTINATION=inbox`, the default): conversations and their notes kept
 * in memory and listed at `GET /inbox`, so the bridge can be tried with no chatbot account.
 * Bounded: the oldest conversations and notes are forgotten first.
 */
export class InboxWriter extends BaseChatbotWriter {
  readonly #conversations = new Map<string, InboxNote[]>();
  readonly #listeners = new Set<(change: InboxChange) => void>();
  readonly #maxConversations: number;
  readonly #maxNotes: number;
  #next = 1;

  constructor(options: ChatbotWriterOptions & { maxConversations?: number; maxNotesPerConversation?: number }) {
    super(options);
    this.#maxConversations = options.maxConversations ?? 10_000;
    this.#maxNotes = options.maxNotesPerConversation ?? 500;
  }

  /** Conversation id → its notes, oldest first. */
  snapshot(): Record<string, InboxNote[]> {
    return Object.fromEntries(this.#conversations);
  }

  /** Calls `listener` on every note posted or redacted and every batch recorded; returns the unsubscribe function. */
  subscribe(listener: (change: InboxChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  override async writeActions(
    conversationId: string | null | undefined,
    sessionId: string,
    actions: readonly NoteAction[],
    userId?: string | null,
    email?: string | null,
  ): Promise<WriteOutcome> {
    const outcome = await super.writeActions(conversationId, sessionId, actions, userId, email);
    if (this.#listeners.size > 0) this.#emit({ type: "actions", sessionId, conversationId: conversationId || null, outcome, at: this.options.now() });
    return outcome;
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string> {
    const id = `note-${this.#next++}`;
    let notes = this.#conversations.get(conversationId);
    if (notes === undefined) {
      notes = [];
      this.#conversations.set(conversationId, notes);
      if (this.#conversations.size > this.#maxConversations) {
        const oldest = this.#conversations.keys().next().value;
        if (oldest !== undefined) this.#conversations.delete(oldest);
      }
    }
    const note = { id, sessionId: context.sessionId, body, at: new Date(this.options.now()).toISOString() };
    notes.push(note);
    if (notes.length > this.#maxNotes) notes.shift();
    this.#emit({ type: "note", conversationId, note });
    return id;
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    const notes = this.#conversations.get(conversationId);
    const index = notes?.findIndex((n) => n.id === partId) ?? -1;
    if (notes !== undefined && index >= 0) {
      notes.splice(index, 1);
      this.#emit({ type: "redacted", conversationId, noteId: partId });
    }
  }

  #emit(change: InboxChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A live view must never disturb delivery.
      }
    }
  }
}
