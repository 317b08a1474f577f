import { ConcurrentUpdateError, PayloadError } from "../errors.js";
import { parseActionsPayload } from "../payloads/parse.js";
import type { ConversationEventType } from "../session/conversation-event.js";
import type { SessionState } from "../session/session-state.js";
import { linkConversation } from "../stores/link-conversation.js";
import { InMemoryConversationLinkStore } from "../stores/memory-conversation-link-store.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import type { ConversationLinkStore, SessionStateStore } from "../stores/types.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import { KeyedSerializer } from "./keyed-serializer.js";

/** Options of {@link AutoplayChatbotManager}. */
export interface AutoplayChatbotManagerOptions {
  /** Delivers the notes (a platform writer). Closed by `close()`. */
  writer: BaseChatbotWriter;
  /** Where session states live. @default a new InMemorySessionStateStore (closed by `close()`) */
  sessionStore?: SessionStateStore;
  /** conversation id → session id. @default a new InMemoryConversationLinkStore (closed by `close()`) */
  linkStore?: ConversationLinkStore;
  /**
   * A state whose stored copy is older than this is saved again even when a batch changed
   * nothing, so its store TTL keeps being refreshed while actions flow, in ms. @default 3_600_000
   */
  stateRefreshMs?: number;
}

/** Saves that lose a compare-and-set race are re-applied on fresh state this many times. */
const MAX_CONFLICT_RETRIES = 5;

/** What `onActions` did with a payload. */
export interface ActionsOutcome {
  sessionId: string;
  /** Actions handed to the writer. */
  accepted: number;
  /** Where they will be delivered; null while the session is not linked (they are buffered). */
  conversationId: string | null;
}

/** What `onChatbotEvent` did. */
export type ChatbotEventOutcome =
  | { status: "linked"; event: ConversationEventType; conversationId: string | null; changed: boolean }
  | { status: "conflict"; owner: string };

/**
 * The recommended entry point (SPEC §7): owns session state, conversation linking and delivery.
 * Feed it the connector's payloads (`onActions`) and the chatbot's webhooks (`onChatbotEvent`).
 * Operations on one session run one at a time, in call order.
 */
export class AutoplayChatbotManager {
  readonly writer: BaseChatbotWriter;
  readonly sessionStore: SessionStateStore;
  readonly linkStore: ConversationLinkStore;
  readonly #owned: Array<{ close?(): Promise<void> }> = [];
  readonly #serializer = new KeyedSerializer();
  readonly #stateRefreshMs: number;
  #closed: Promise<void> | undefined;

  constructor(options: AutoplayChatbotManagerOptions) {
    if (options === null || typeof options !== "object" || options.writer === undefined) {
      throw new TypeError("Expected `writer` to be a BaseChatbotWriter, got undefined");
    }
    this.writer = options.writer;
    this.sessionStore = options.sessionStore ?? this.#own(new InMemorySessionStateStore());
    this.linkStore = options.linkStore ?? this.#own(new InMemoryConversationLinkStore());
    this.#stateRefreshMs = options.stateRefreshMs ?? 3_600_000;
    if (!(this.#stateRefreshMs >= 0)) throw new TypeError(`Expected \`stateRefreshMs\` to be >= 0, got ${String(options.stateRefreshMs)}`);
  }

  /**
   * Takes one actions payload (raw JSON text, bytes, or an object): creates the session's state
   * on first sight, merges identity into its metadata, routes the actions through the writer
   * (buffered before the link, debounced after) and saves the state.
   * @throws PayloadError when the payload is malformed or carries no session id.
   */
  async onActions(payload: unknown): Promise<ActionsOutcome> {
    const parsed = parseActionsPayload(payload);
    const sessionId = parsed.session_id;
    if (sessionId === null || sessionId === "") {
      throw new PayloadError("session_id is required: actions without a session cannot be attributed to a conversation");
    }
    return this.#serializer.run(sessionId, async () => {
      const loaded = await this.#load(sessionId);
      let state = loaded.state;
      // Hot path: the state is saved only when it is new, when identity changed, or to refresh
      // its TTL; a batch otherwise costs one state read and the writer's own work. The save
      // comes first: if it fails, nothing was handed to the writer, so the sender's retry cannot
      // deliver the actions twice.
      const identity = { user_id: parsed.user_id, email: parsed.email };
      const stale = Date.now() - state.updatedAtMs >= this.#stateRefreshMs;
      if (loaded.isNew || stale || identityChanges(state, identity)) {
        state = await this.#saveWithRetry(sessionId, state, (s) => {
          mergeIdentity(s, identity);
          s.markUpdated();
        });
      }
      const conversationId = state.conversationLinked ? state.conversationId : null;
      await this.writer.writeActions(conversationId, sessionId, parsed.actions, parsed.user_id, parsed.email);
      return { sessionId, accepted: parsed.actions.length, conversationId };
    });
  }

  /**
   * Links a session to a conversation from a chatbot webhook (event inferred from the link
   * store unless `eventType` says), flushes the pre-link buffer there, and saves the state.
   * A conversation owned by another session is a conflict: nothing changes.
   */
  async onChatbotEvent(sessionId: string, conversationId: string, eventType?: ConversationEventType): Promise<ChatbotEventOutcome> {
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    if (typeof conversationId !== "string" || conversationId === "") throw new PayloadError("conversation_id is required");
    return this.#serializer.run(sessionId, async () => {
      for (let attempt = 0; ; attempt++) {
        const { state, isNew } = await this.#load(sessionId);
        const result = await linkConversation(state, conversationId, this.linkStore, eventType);
        if (!result.ok) return { status: "conflict", owner: result.owner };
        try {
          if (result.changed || isNew) await this.sessionStore.save(state);
        } catch (error) {
          // Another instance saved this session meanwhile: link again on its fresh state.
          if (error instanceof ConcurrentUpdateError && attempt < MAX_CONFLICT_RETRIES) continue;
          throw error;
        }
        if (state.conversationLinked && state.conversationId !== null) {
          await this.writer.onSessionLinked(sessionId, state.conversationId);
        }
        return { status: "linked", event: result.event, conversationId: state.conversationId, changed: result.changed };
      }
    });
  }

  /** Persists changes made outside the manager (FSM transitions, metadata), in session order. */
  async saveState(state: SessionState): Promise<void> {
    await this.#serializer.run(state.sessionId, () => this.sessionStore.save(state));
  }

  /** The stored state of a session, or null. */
  async getState(sessionId: string): Promise<SessionState | null> {
    return this.sessionStore.get(sessionId);
  }

  /** Drains the writer (bounded), then closes the stores this manager created. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.writer.close();
      for (const resource of this.#owned) await resource.close?.();
    })();
    return this.#closed;
  }

  /** The stored state, or a new one (which is not stored until saved). */
  async #load(sessionId: string): Promise<{ state: SessionState; isNew: boolean }> {
    const stored = await this.sessionStore.get(sessionId);
    if (stored !== null) return { state: stored, isNew: false };
    return { state: await this.sessionStore.getOrCreate(sessionId), isNew: true };
  }

  /** Applies `change` and saves; on a lost compare-and-set race, reloads and re-applies. Returns the saved state. */
  async #saveWithRetry(sessionId: string, first: SessionState, change: (state: SessionState) => void): Promise<SessionState> {
    let state = first;
    for (let attempt = 0; ; attempt++) {
      change(state);
      try {
        await this.sessionStore.save(state);
        return state;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError) || attempt >= MAX_CONFLICT_RETRIES) throw error;
        state = await this.sessionStore.getOrCreate(sessionId);
      }
    }
  }

  #own<T extends { close?(): Promise<void> }>(resource: T): T {
    this.#owned.push(resource);
    return resource;
  }
}

function identityChanges(state: SessionState, identity: { user_id: string | null; email: string | null }): boolean {
  return (identity.user_id !== null && identity.user_id !== "" && state.metadata.user_id !== identity.user_id) ||
    (identity.email !== null && identity.email !== "" && state.metadata.email !== identity.email);
}

function mergeIdentity(state: SessionState, identity: { user_id: string | null; email: string | null }): void {
  if (identity.user_id) state.metadata.user_id = identity.user_id;
  if (identity.email) state.metadata.email = identity.email;
}
