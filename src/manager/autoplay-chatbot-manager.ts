import { checkConversationId } from "../conversation-id.js";
import { ConcurrentUpdateError, PayloadError, WriterClosedError } from "../errors.js";
import { parseActionsPayload, parseSummaryPayload, type ParseOptions } from "../payloads/parse.js";
import type { ActionsPayload, SummaryPayload } from "../payloads/types.js";
import type { ConversationEventType } from "../session/conversation-event.js";
import type { SessionState } from "../session/session-state.js";
import { invalidOption, requireDurationMs } from "../session/validation.js";
import { ExpiringMap } from "../stores/expiring-map.js";
import { linkConversation } from "../stores/link-conversation.js";
import { InMemoryConversationLinkStore } from "../stores/memory-conversation-link-store.js";
import { InMemorySessionStateStore } from "../stores/memory-session-state-store.js";
import type { ConversationLinkStore, SessionStateStore, SessionStoreStats } from "../stores/types.js";
import type { AgentContextWriter } from "../summaries/agent-context-writer.js";
import type { SummarizerStats } from "../summaries/session-summarizer.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { SummaryOutcome, WriteOutcome } from "../writer/delivery-engine.js";
import { ConversationUnlinks } from "./conversation-unlinks.js";
import { identityChanges, mergeIdentity, requireParsed, type PayloadIdentity } from "./actions-input.js";
import { KeyedSerializer } from "./keyed-serializer.js";

/** Default time to live of a never-linked session's state in the default store, in ms: twice the writer's default pre-link window. */
export const DEFAULT_UNLINKED_STATE_TTL_MS = 240_000;

/** Options of {@link AutoplayChatbotManager}. */
export interface AutoplayChatbotManagerOptions {
  /** Delivers the notes (a platform writer). Closed by `close()`. */
  writer: BaseChatbotWriter;
  /**
   * Summaries (SPEC §8): an {@link AgentContextWriter} on the same writer. The manager feeds it
   * each payload's new actions after the writer accepted them, and hands it the connector's
   * `summary` payloads (`onSummary`). Closed (before the writer) by `close()`.
   */
  contextWriter?: AgentContextWriter;
  /** Where session states live. @default a new InMemorySessionStateStore (closed by `close()`) */
  sessionStore?: SessionStateStore;
  /** conversation id → session id. @default a new InMemoryConversationLinkStore (closed by `close()`) */
  linkStore?: ConversationLinkStore;
  /**
   * A state whose stored copy is older than this is saved again even when a batch changed
   * nothing, so its store TTL keeps being refreshed while actions flow, in ms. @default 3_600_000
   */
  stateRefreshMs?: number;
  /**
   * Default store only (unset when `sessionStore` is given): most sessions held in memory; beyond
   * it the least recently used is evicted (counted in `stats().sessionStore.evicted`). @default 100_000
   */
  maxSessions?: number;
  /**
   * Default store only (unset when `sessionStore` is given): how long a never-linked session's
   * state is kept after its last save, in ms; an active one is re-saved every half of it, so it
   * lives at least half of it after its last batch. Keep it at least twice the writer's
   * `preLinkWindowMs`: after that window the state is of no use. @default 240_000
   */
  unlinkedStateTtlMs?: number;
  /**
   * How long this manager may act on what it last read or saved of a session (its identity and
   * age) without reading the store again, in ms: with a remote store (Redis) that is one round
   * trip less per batch. Such a batch names no conversation to the writer, so the engine routes it
   * by the link it holds (shared by every instance with Redis); a link known only to the session
   * state (another instance's own in-memory engine) reaches this writer once the remembered read
   * is older than this (its actions wait pre-link meanwhile, and are flushed there). Changes made
   * to the session store other than through this manager are also seen only then. Bounded to
   * 10,000 sessions; 0 turns it off. @default 2_000
   */
  stateCacheMs?: number;
}

/** What the manager remembers of a session between batches (see `stateCacheMs`). */
interface StateHint {
  conversationId: string | null;
  userId: unknown;
  email: unknown;
  updatedAtMs: number;
}

/** Sessions whose last read is remembered at most (`stateCacheMs`). */
const MAX_STATE_HINTS = 10_000;

/** How `onActions` reads its payload. */
export interface OnActionsOptions extends ParseOptions {
  /**
   * The payload is an `ActionsPayload` already returned by `parseActionsPayload` / `parsePayload`
   * (with the caller's own limits): it is used as is, neither parsed nor size-checked again, so
   * one limit (the caller's) applies and parser marks on the actions survive. @default false
   */
  parsed?: boolean;
}

/** Saves that lose a compare-and-set race are re-applied on fresh state this many times. */
const MAX_CONFLICT_RETRIES = 5;

/** What `onActions` did with a payload. */
export interface ActionsOutcome {
  sessionId: string;
  /** Actions handed to the writer (the batch's actions, duplicates included). */
  accepted: number;
  /** Of those, actions new to the session and buffered for delivery. */
  newActions: number;
  /** Of those, actions already accepted earlier (a replayed batch): dropped and counted. */
  duplicates: number;
  /** Pre-link actions that fell out of the window on this arrival (older ones included). */
  trimmed: number;
  /** Where they will be delivered; null while the session is not linked (they are buffered), and for an empty batch. */
  conversationId: string | null;
}

/** What `onChatbotEvent` did. */
export type ChatbotEventOutcome =
  | { status: "linked"; event: ConversationEventType; conversationId: string | null; changed: boolean }
  | { status: "conflict"; owner: string };

/** The manager's counters and gauges, for metrics. */
export interface ManagerStats {
  /** Sessions with an operation queued or running now (gauge). */
  busySessions: number;
  /** Batches without actions, which changed nothing (counter). */
  emptyBatches: number;
  /** `unlinked` events applied: state unlinked and link released (counter). */
  unlinksApplied: number;
  /** Unlinks that failed on a store error and were kept for the session's next call (counter). */
  unlinksFailed: number;
  /** Failed unlinks waiting for the session's next call (gauge). */
  unlinksPending: number;
  /** The session store's counters, when it keeps any (the in-memory store does); else null. */
  sessionStore: SessionStoreStats | null;
  /** The context writer's summarizer counters, when a `contextWriter` with a summarizer is set; else null. */
  summarizer: SummarizerStats | null;
}

/** How `onSummary` reads its payload. */
export interface OnSummaryOptions extends ParseOptions {
  /** The payload is a `SummaryPayload` already returned by `parseSummaryPayload` / `parsePayload`. @default false */
  parsed?: boolean;
}

/**
 * The recommended entry point (SPEC §7): owns session state, conversation linking and delivery.
 * Feed it the connector's payloads (`onActions`) and the chatbot's webhooks (`onChatbotEvent`).
 * Operations on one session run one at a time, in call order. When the writer reports a
 * conversation gone (`unlinked`), the session's state is unlinked and its link released, so its
 * later actions wait as pre-link actions for a new link.
 */
export class AutoplayChatbotManager {
  readonly writer: BaseChatbotWriter;
  readonly sessionStore: SessionStateStore;
  readonly linkStore: ConversationLinkStore;
  readonly contextWriter: AgentContextWriter | null;
  readonly #owned: Array<{ close?(): Promise<void> }> = [];
  readonly #serializer = new KeyedSerializer();
  readonly #stateRefreshMs: number;
  readonly #unlinkedRefreshMs: number;
  readonly #unlinks: ConversationUnlinks;
  readonly #unsubscribe: () => void;
  readonly #hints: ExpiringMap<StateHint> | null;
  #emptyBatches = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: AutoplayChatbotManagerOptions) {
    if (options === null || typeof options !== "object" || options.writer === undefined) {
      throw new TypeError("Expected `writer` to be a BaseChatbotWriter, got undefined");
    }
    this.#stateRefreshMs = options.stateRefreshMs ?? 3_600_000;
    if (!(this.#stateRefreshMs >= 0)) throw new TypeError(`Expected \`stateRefreshMs\` to be >= 0, got ${String(options.stateRefreshMs)}`);
    this.writer = options.writer;
    this.contextWriter = options.contextWriter ?? null;
    if (this.contextWriter !== null && this.contextWriter.writer !== this.writer) {
      throw new TypeError("Expected `contextWriter` to be an AgentContextWriter on the manager's `writer`");
    }
    const sessions = sessionStoreFrom(options);
    this.sessionStore = sessions.owned ? this.#own(sessions.store) : sessions.store;
    this.linkStore = options.linkStore ?? this.#own(new InMemoryConversationLinkStore());
    const unlinkedTtl = this.sessionStore.unlinkedTtlMs;
    this.#unlinkedRefreshMs = unlinkedTtl === undefined ? this.#stateRefreshMs : Math.min(this.#stateRefreshMs, unlinkedTtl / 2);
    const cacheMs = options.stateCacheMs ?? 2_000;
    if (!(cacheMs >= 0) || !Number.isFinite(cacheMs)) invalidOption("stateCacheMs", "a finite number >= 0", options.stateCacheMs);
    const hints = cacheMs === 0 ? null : new ExpiringMap<StateHint>({ ttlMs: cacheMs, now: Date.now, maxEntries: MAX_STATE_HINTS });
    this.#hints = hints;
    this.#unlinks = new ConversationUnlinks(this.sessionStore, this.linkStore, this.#serializer, MAX_CONFLICT_RETRIES, (id) => hints?.delete(id));
    this.#unsubscribe = this.writer.on("unlinked", (event) => {
      this.#hints?.delete(event.sessionId);
      this.#unlinks.schedule(event.sessionId, event.conversationId);
    });
  }

  /**
   * Takes one actions payload (raw JSON text, bytes, or an object, parsed with `options`' limits;
   * or with `{ parsed: true }` an `ActionsPayload` already parsed): creates the session's state
   * on first sight, merges identity into its metadata, routes the actions through the writer
   * (buffered before the link, debounced after) and saves the state. An empty batch changes
   * nothing: no state is created or saved and the writer is not called.
   * @throws PayloadError when the payload is malformed or carries no session id.
   * @throws WriterClosedError after `close()` began.
   */
  onActions(payload: ActionsPayload, options: OnActionsOptions & { parsed: true }): Promise<ActionsOutcome>;
  onActions(payload: unknown, options?: OnActionsOptions): Promise<ActionsOutcome>;
  async onActions(payload: unknown, options?: OnActionsOptions): Promise<ActionsOutcome> {
    this.#assertOpen();
    const parsed = options?.parsed === true ? requireParsed(payload) : parseActionsPayload(payload, options);
    const sessionId = parsed.session_id;
    if (typeof sessionId !== "string" || sessionId === "") {
      throw new PayloadError("session_id is required: actions without a session cannot be attributed to a conversation");
    }
    if (parsed.actions.length === 0) {
      this.#emptyBatches += 1;
      return { sessionId, accepted: 0, newActions: 0, duplicates: 0, trimmed: 0, conversationId: null };
    }
    return this.#serializer.run(sessionId, async () => {
      await this.#unlinks.retryPending(sessionId);
      const identity = { user_id: parsed.user_id, email: parsed.email };
      // A batch routed on a remembered read names no conversation: the engine then uses the link
      // it holds, so a read up to stateCacheMs old can neither make nor revive a link.
      const remembered = this.#fresh(sessionId, identity);
      const target = remembered !== undefined ? null : await this.#prepare(sessionId, identity);
      const written = await this.writer.writeActions(target, sessionId, parsed.actions, parsed.user_id, parsed.email);
      // Reported as read from the state, or, for a remembered read, as the engine routed it.
      const conversationId = remembered === undefined ? target : written.conversationId !== undefined ? written.conversationId : remembered;
      if (this.contextWriter !== null && written.accepted > 0) this.#feedSummaries(sessionId, parsed, written);
      return {
        sessionId,
        accepted: parsed.actions.length,
        newActions: written.accepted,
        duplicates: written.duplicates,
        trimmed: written.trimmed,
        conversationId,
      };
    });
  }

  /**
   * Takes the connector's own `summary` payload (raw JSON text, bytes, or an object; or with
   * `{ parsed: true }` a parsed `SummaryPayload`): posts it as a summary note after what the
   * session already owes and, once it is confirmed, redacts the session's notes whose actions are
   * all among the `replaces` latest it accepted (docs/summaries.md). In session order with
   * `onActions`. A session without a conversation gets nothing posted (`status: "unlinked"`).
   * @throws PayloadError when the payload is malformed, carries no session id or no summary.
   * @throws WriterClosedError after `close()` began.
   */
  async onSummary(payload: unknown, options?: OnSummaryOptions): Promise<SummaryOutcome> {
    this.#assertOpen();
    const parsed = options?.parsed === true ? requireParsedSummary(payload) : parseSummaryPayload(payload, options);
    const sessionId = parsed.session_id;
    if (typeof sessionId !== "string" || sessionId === "") {
      throw new PayloadError("session_id is required: a summary without a session cannot be attributed to a conversation");
    }
    if (parsed.summary.trim() === "") throw new PayloadError("summary is empty");
    return this.#serializer.run(sessionId, async () => {
      if (this.contextWriter !== null) return this.contextWriter.onSummary(parsed);
      const replaces = Number.isFinite(parsed.replaces) ? Math.max(0, Math.floor(parsed.replaces)) : 0;
      return this.writer.postSummary(sessionId, parsed.summary, { latestActions: replaces });
    });
  }

  /**
   * Links a session to a conversation from a chatbot webhook (event inferred from the link
   * store unless `eventType` says), flushes the pre-link buffer there, and saves the state.
   * The event is decided once per call: a save that loses a compare-and-set race is re-applied
   * with the same event. A conversation owned by another session is a conflict: nothing changes.
   * @throws PayloadError for an empty session id or an invalid conversation id.
   * @throws WriterClosedError after `close()` began.
   */
  async onChatbotEvent(sessionId: string, conversationId: string, eventType?: ConversationEventType): Promise<ChatbotEventOutcome> {
    this.#assertOpen();
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    checkConversationId(conversationId);
    return this.#serializer.run(sessionId, async () => {
      await this.#unlinks.retryPending(sessionId);
      let event = eventType;
      for (let attempt = 0; ; attempt++) {
        const { state, isNew } = await this.#load(sessionId);
        const result = await linkConversation(state, conversationId, this.linkStore, event);
        if (!result.ok) return { status: "conflict", owner: result.owner };
        // The first try's claim tells NEW from REPLY_EXISTING; a retry would see its own claim.
        event ??= result.event;
        try {
          if (result.changed || isNew) await this.sessionStore.save(state);
        } catch (error) {
          // Another instance saved this session meanwhile: link again on its fresh state.
          if (error instanceof ConcurrentUpdateError && attempt < MAX_CONFLICT_RETRIES) continue;
          throw error;
        }
        // Remembered only once the writer holds the link: a batch routed on a remembered read
        // names no conversation, so a link the writer missed (its call failed) would leave the
        // session's batches pre-link until the read is stale.
        this.#hints?.delete(sessionId);
        if (state.conversationLinked && state.conversationId !== null) {
          await this.writer.onSessionLinked(sessionId, state.conversationId);
        }
        this.#remember(state);
        return { status: "linked", event: result.event, conversationId: state.conversationId, changed: result.changed };
      }
    });
  }

  /**
   * Persists changes made outside the manager (FSM transitions, metadata), in session order.
   * Compare-and-set: a state read before another save of its session throws
   * `ConcurrentUpdateError` (reload with `getState`, re-apply, save again).
   * @throws WriterClosedError after `close()` began.
   */
  async saveState(state: SessionState): Promise<void> {
    this.#assertOpen();
    await this.#serializer.run(state.sessionId, async () => {
      this.#hints?.delete(state.sessionId);
      await this.sessionStore.save(state);
      this.#remember(state);
    });
  }

  /**
   * The stored state of a session, or null.
   * @throws WriterClosedError after `close()` began.
   */
  async getState(sessionId: string): Promise<SessionState | null> {
    this.#assertOpen();
    return this.sessionStore.get(sessionId);
  }

  /** Counters and gauges for metrics (see {@link ManagerStats}). */
  stats(): ManagerStats {
    return {
      busySessions: this.#serializer.size,
      emptyBatches: this.#emptyBatches,
      unlinksApplied: this.#unlinks.applied,
      unlinksFailed: this.#unlinks.failed,
      unlinksPending: this.#unlinks.pending,
      sessionStore: this.sessionStore.stats?.() ?? null,
      summarizer: this.contextWriter?.stats().summarizer ?? null,
    };
  }

  /**
   * Drains the writer (bounded), lets unlinks it reported settle, then closes the stores this
   * manager created. Every call made after `close()` began rejects with `WriterClosedError`.
   * Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= (async () => {
      try {
        // Summaries still being written reach the writer first, so its drain includes them.
        await this.contextWriter?.close();
        await this.writer.close();
      } finally {
        this.#unsubscribe();
        this.#hints?.clear();
        await this.#unlinks.idle();
        for (const resource of this.#owned) await resource.close?.();
      }
    })();
    return this.#closed;
  }

  /** Hands the batch's new actions to the summarizer; a summary is a bonus, so nothing here fails the batch. */
  #feedSummaries(sessionId: string, parsed: ActionsPayload, written: WriteOutcome): void {
    // An engine that does not report which actions were new: the batch is new only without duplicates.
    const fresh = written.newActions ?? (written.duplicates === 0 ? parsed.actions : null);
    if (fresh === null) return;
    try {
      this.contextWriter?.addActions(sessionId, fresh, written.lastSequence);
    } catch {
      // Closed concurrently: the actions are delivered; only their summary is skipped.
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new WriterClosedError();
  }

  /**
   * The conversation to route a batch to, from what this manager read of the session less than
   * `stateCacheMs` ago, when that read needs no save now (identity unchanged, TTL not due for a
   * refresh); else undefined. A `null` conversation is returned as null (not linked).
   */
  #fresh(sessionId: string, identity: PayloadIdentity): string | null | undefined {
    const hint = this.#hints?.get(sessionId);
    if (hint === undefined) return undefined;
    const refreshMs = hint.conversationId !== null ? this.#stateRefreshMs : this.#unlinkedRefreshMs;
    if (Date.now() - hint.updatedAtMs >= refreshMs) return undefined;
    if ((identity.user_id && hint.userId !== identity.user_id) || (identity.email && hint.email !== identity.email)) return undefined;
    return hint.conversationId;
  }

  /**
   * Reads the session's state and saves it when it is new, when identity changed, or to refresh
   * its TTL; returns the conversation to route the batch to (null: not linked). The save comes
   * first: if it fails, nothing was handed to the writer, so the sender's retry cannot deliver
   * the actions twice.
   */
  async #prepare(sessionId: string, identity: PayloadIdentity): Promise<string | null> {
    const loaded = await this.#load(sessionId);
    let state = loaded.state;
    const refreshMs = state.conversationLinked ? this.#stateRefreshMs : this.#unlinkedRefreshMs;
    const stale = Date.now() - state.updatedAtMs >= refreshMs;
    if (loaded.isNew || stale || identityChanges(state, identity)) {
      state = await this.#saveWithRetry(sessionId, state, (s) => {
        mergeIdentity(s, identity);
        s.markUpdated();
      });
    }
    this.#remember(state);
    return state.conversationLinked ? state.conversationId : null;
  }

  /** Remembers what `state` says for `stateCacheMs` (see {@link StateHint}). */
  #remember(state: SessionState): void {
    this.#hints?.set(state.sessionId, {
      conversationId: state.conversationLinked ? state.conversationId : null,
      userId: state.metadata.user_id,
      email: state.metadata.email,
      updatedAtMs: state.updatedAtMs,
    });
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

/** A summary payload the caller says is parsed. */
function requireParsedSummary(payload: unknown): SummaryPayload {
  const candidate = payload as Partial<SummaryPayload> | null;
  if (candidate === null || typeof candidate !== "object" || candidate.type !== "summary" || typeof candidate.summary !== "string") {
    throw new PayloadError("with { parsed: true }, onSummary expects a SummaryPayload returned by parseSummaryPayload");
  }
  return candidate as SummaryPayload;
}

/**
 * The given store, or the default one: in memory, bounded in count and in how long never-linked
 * sessions stay. Options of the default store are refused beside a given store.
 */
function sessionStoreFrom(options: AutoplayChatbotManagerOptions): { store: SessionStateStore; owned: boolean } {
  const unlinkedTtlMs = options.unlinkedStateTtlMs;
  if (options.sessionStore !== undefined) {
    const unset = "unset when sessionStore is given (configure that store)";
    if (options.maxSessions !== undefined) invalidOption("maxSessions", unset, options.maxSessions);
    if (unlinkedTtlMs !== undefined) invalidOption("unlinkedStateTtlMs", unset, unlinkedTtlMs);
    return { store: options.sessionStore, owned: false };
  }
  const ttl = unlinkedTtlMs === undefined ? DEFAULT_UNLINKED_STATE_TTL_MS : requireDurationMs("unlinkedStateTtlMs", unlinkedTtlMs, true);
  return { store: new InMemorySessionStateStore({ maxSessions: options.maxSessions, unlinkedTtlMs: ttl }), owned: true };
}
