import { RecordingChatbotWriter } from "../../testing/index.js";
import type { WriterEvents } from "../../writer/events.js";

type UnlinkedListener = (payload: WriterEvents["unlinked"]) => void;

/**
 * A recording writer that can report a conversation gone on demand, as the engine does on a
 * `ConversationGoneError`: `emitUnlinked` calls every `unlinked` listener. Test-only.
 */
export class UnlinkingWriter extends RecordingChatbotWriter {
  readonly #unlinkedListeners = new Set<UnlinkedListener>();
  /** Every `writeActions` call: the conversation id it was given, by session. */
  readonly routed: Array<{ sessionId: string; conversationId: string | null }> = [];

  override on<E extends keyof WriterEvents>(event: E, listener: (payload: WriterEvents[E]) => void): () => void {
    const off = super.on(event, listener);
    if (event !== "unlinked") return off;
    const unlinked = listener as UnlinkedListener;
    this.#unlinkedListeners.add(unlinked);
    return () => {
      this.#unlinkedListeners.delete(unlinked);
      off();
    };
  }

  override writeActions(...args: Parameters<RecordingChatbotWriter["writeActions"]>): ReturnType<RecordingChatbotWriter["writeActions"]> {
    this.routed.push({ sessionId: args[1], conversationId: args[0] ?? null });
    return super.writeActions(...args);
  }

  /** Reports `conversationId` gone for `sessionId`, as the engine would. */
  emitUnlinked(sessionId: string, conversationId: string, bufferedActions = 0): void {
    const payload = { sessionId, conversationId, reason: "conversation_gone" as const, error: "simulated 404", bufferedActions };
    for (const listener of this.#unlinkedListeners) listener(payload);
  }

  /** Listeners of `unlinked` now. */
  get unlinkedListenerCount(): number {
    return this.#unlinkedListeners.size;
  }
}
