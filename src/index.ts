/**
 * Chatbot delivery engine: turns a web-app user's live UI actions into internal notes in their
 * support-chat conversation. Start with {@link AutoplayChatbotManager} and a platform writer
 * (a subclass of {@link BaseChatbotWriter}); `./testing` has a recording writer for tests, and
 * `./server` the bridge service (HTTP app, metrics, `startBridge`), whose dependencies this
 * entry never loads.
 */
export * from "./errors.js";
export { checkConversationId, conversationIdProblem, isValidConversationId, MAX_CONVERSATION_ID_LENGTH } from "./conversation-id.js";
export * from "./payloads/index.js";
export * from "./note/index.js";
export * from "./writer/index.js";
export * from "./session/index.js";
export * from "./stores/index.js";
export * from "./manager/index.js";
export * from "./summaries/index.js";
export * from "./redis/index.js";
export * from "./integrations/index.js";
export * from "./connector/index.js";
