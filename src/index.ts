/**
 * Chatbot delivery engine: turns a web-app user's live UI actions into internal notes in their
 * support-chat conversation. Start with {@link AutoplayChatbotManager} and a platform writer
 * (a subclass of {@link BaseChatbotWriter}); `./testing` has a recording writer for tests.
 */
export * from "./errors.js";
export * from "./payloads/index.js";
export * from "./note/index.js";
export * from "./writer/index.js";
export * from "./session/index.js";
export * from "./stores/index.js";
export * from "./manager/index.js";
export * from "./redis/index.js";
