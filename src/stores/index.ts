/** Session and conversation-link stores, and the linking step that uses them (SPEC §6). */
export type { ConversationClaim, ConversationLinkStore, SessionStateStore, SessionStoreStats } from "./types.js";
export {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_TTL_MS,
  InMemorySessionStateStore,
  type InMemorySessionStateStoreOptions,
} from "./memory-session-state-store.js";
export {
  DEFAULT_LINK_TTL_MS,
  InMemoryConversationLinkStore,
  type InMemoryConversationLinkStoreOptions,
} from "./memory-conversation-link-store.js";
export { linkConversation, type LinkResult } from "./link-conversation.js";
export {
  DEFAULT_REDIS_TTL_SECONDS,
  RedisSessionStateStore,
  type RedisSessionStateStoreOptions,
  type RedisStoreConnectionOptions,
} from "./redis-session-state-store.js";
export { RedisConversationLinkStore, type RedisConversationLinkStoreOptions } from "./redis-conversation-link-store.js";
