import { requireNonEmptyString } from "../session/validation.js";
import { ExpiringMap } from "./expiring-map.js";
import type { ConversationClaim, ConversationLinkStore } from "./types.js";

/** Default time to live of a conversation link, in ms (24 h). */
export const DEFAULT_LINK_TTL_MS = 86_400_000;

/** Options of {@link InMemoryConversationLinkStore}. */
export interface InMemoryConversationLinkStoreOptions {
  /** Time to live of a link, in ms, refreshed when its owner claims it again. @default 86_400_000 (24 h) */
  ttlMs?: number;
  /** Wall clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * The default {@link ConversationLinkStore}: one process, lost on restart. `claim` is atomic
 * because it never awaits between reading and writing. Construction does no I/O and starts no timer.
 */
export class InMemoryConversationLinkStore implements ConversationLinkStore {
  readonly #links: ExpiringMap<string>;
  #closed = false;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: InMemoryConversationLinkStoreOptions = {}) {
    this.#links = new ExpiringMap({ ttlMs: options.ttlMs ?? DEFAULT_LINK_TTL_MS, now: options.now ?? Date.now });
  }

  /** Links held in memory, including expired ones the next sweep frees. */
  get size(): number {
    return this.#links.size;
  }

  async get(conversationId: string): Promise<string | null> {
    this.#assertOpen();
    return this.#links.get(requireNonEmptyString("conversationId", conversationId)) ?? null;
  }

  async claim(conversationId: string, sessionId: string): Promise<ConversationClaim> {
    this.#assertOpen();
    requireNonEmptyString("conversationId", conversationId);
    requireNonEmptyString("sessionId", sessionId);
    const owner = this.#links.get(conversationId);
    if (owner !== undefined && owner !== sessionId) return { created: false, owner };
    this.#links.set(conversationId, sessionId);
    return { created: owner === undefined, owner: sessionId };
  }

  async delete(conversationId: string): Promise<void> {
    this.#assertOpen();
    this.#links.delete(requireNonEmptyString("conversationId", conversationId));
  }

  async release(conversationId: string, sessionId: string): Promise<boolean> {
    this.#assertOpen();
    requireNonEmptyString("conversationId", conversationId);
    requireNonEmptyString("sessionId", sessionId);
    if (this.#links.get(conversationId) !== sessionId) return false;
    this.#links.delete(conversationId);
    return true;
  }

  /** Frees every expired link now; returns how many. The sweep timer does this periodically. */
  pruneExpired(): number {
    return this.#links.pruneExpired();
  }

  /** Drops everything and stops the sweep; later calls reject. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#links.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("InMemoryConversationLinkStore is closed");
  }
}
