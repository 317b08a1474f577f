import { ConcurrentUpdateError } from "../errors.js";
import type { ConversationLinkStore, SessionStateStore } from "../stores/types.js";
import type { KeyedSerializer } from "./keyed-serializer.js";

/** Unlinks that failed are re-applied at the session's next call; at most this many are remembered. */
const MAX_PENDING = 10_000;

/**
 * Makes the session state and the link store agree when the writer reports a conversation gone
 * (its `unlinked` event): the state is unlinked, only while it still points at that conversation,
 * with compare-and-set retries, inside the session's serializer; then the link is released if this
 * session owns it. One that fails (a store error) is remembered and re-applied before the
 * session's next call. Internal to the manager.
 */
export class ConversationUnlinks {
  readonly #sessions: SessionStateStore;
  readonly #links: ConversationLinkStore;
  readonly #serializer: KeyedSerializer;
  readonly #maxConflictRetries: number;
  readonly #pending = new Map<string, string>();
  readonly #running = new Set<Promise<void>>();
  /** Unlinks applied (state and link store consistent), since start. */
  applied = 0;
  /** Unlinks that failed at least once, since start. */
  failed = 0;

  readonly #touched: (sessionId: string) => void;

  /** `touched` is told of every session whose state an unlink may have changed (the manager forgets what it read of it). */
  constructor(sessions: SessionStateStore, links: ConversationLinkStore, serializer: KeyedSerializer, maxConflictRetries: number, touched: (sessionId: string) => void = () => undefined) {
    this.#touched = touched;
    this.#sessions = sessions;
    this.#links = links;
    this.#serializer = serializer;
    this.#maxConflictRetries = maxConflictRetries;
  }

  /** Unlinks waiting to be re-applied. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Queues the unlink behind the session's other operations; never rejects. */
  schedule(sessionId: string, conversationId: string): void {
    const work = this.#serializer.run(sessionId, () => this.#apply(sessionId, conversationId)).catch(() => {
      this.failed += 1;
      this.#remember(sessionId, conversationId);
    });
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
  }

  /** Re-applies a failed unlink of this session, if any; call inside the session's serializer. A new failure is kept for later. */
  async retryPending(sessionId: string): Promise<void> {
    const conversationId = this.#pending.get(sessionId);
    if (conversationId === undefined) return;
    try {
      await this.#apply(sessionId, conversationId);
    } catch {
      // Still failing: keep it. The writer already delivers nothing there, so the call may go on.
    }
  }

  /** Resolves when every scheduled unlink has settled. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  async #apply(sessionId: string, conversationId: string): Promise<void> {
    try {
      let state = await this.#sessions.get(sessionId);
      for (let attempt = 0; state !== null && state.unlinkConversation(conversationId); attempt += 1) {
        try {
          await this.#sessions.save(state);
          break;
        } catch (error) {
          if (!(error instanceof ConcurrentUpdateError) || attempt >= this.#maxConflictRetries) throw error;
          state = await this.#sessions.get(sessionId);
        }
      }
    } finally {
      this.#touched(sessionId);
    }
    await this.#links.release(conversationId, sessionId);
    if (this.#pending.get(sessionId) === conversationId) this.#pending.delete(sessionId);
    this.applied += 1;
  }

  #remember(sessionId: string, conversationId: string): void {
    this.#pending.delete(sessionId);
    this.#pending.set(sessionId, conversationId);
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value as string);
  }
}
