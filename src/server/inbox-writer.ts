import { BaseChatbotWriter, type PostContext } from "../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../writer/options.js";

/** One note in the embedded inbox. */
export interface InboxNote {
  id: string;
  sessionId: string;
  body: string;
  /** When it was posted, ISO 8601. */
  at: string;
}

/**
 * The embedded destination (`DESTINATION=inbox`, the default): conversations and their notes kept
 * in memory and listed at `GET /inbox`, so the bridge can be tried with no chatbot account.
 * Bounded: the oldest conversations and notes are forgotten first.
 */
export class InboxWriter extends BaseChatbotWriter {
  readonly #conversations = new Map<string, InboxNote[]>();
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

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string> {
    const id = `note-${this.#next++}`;
    let notes = this.#conversations.get(conversationId);
    if (notes === undefined) {
      notes = [];
      this.#conversations.set(conversationId, notes);
      const oldest = this.#conversations.keys().next().value;
      if (this.#conversations.size > this.#maxConversations && oldest !== undefined) this.#conversations.delete(oldest);
    }
    notes.push({ id, sessionId: context.sessionId, body, at: new Date(this.options.now()).toISOString() });
    if (notes.length > this.#maxNotes) notes.shift();
    return id;
  }

  protected override async redactPart(conversationId: string, partId: string): Promise<void> {
    const notes = this.#conversations.get(conversationId);
    const index = notes?.findIndex((n) => n.id === partId) ?? -1;
    if (notes !== undefined && index >= 0) notes.splice(index, 1);
  }
}
