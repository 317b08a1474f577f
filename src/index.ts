/**
 * Chatbot delivery engine: turns a web-app user's live UI actions into internal notes in their
 * support-chat conversation. Start with {@link AutoplayChatbotManager} and a platform writer
 * (a subclass of {@link BaseChatbotWriter}); `./testing` has a recording writer for tests.
 */
export * from "./errors.js";
export { checkConversationId, conversationIdProblem, isValidConversationId, MAX_CONVERSATION_ID_LENGTH } from "./conversation-id.js";
export * from "./payloads/index.js";
export * from "./note/index.js";
export * from "./writer/index.js";
export * from "./session/index.js";
export * from "./stores/index.js";
export * from "./manager/index.js";
export * from "./redis/index.js";
export * from "./integrations/index.js";
export * from "./connector/index.js";
export { createBridgeApp, type BridgeAppOptions } from "./server/app.js";
export { InboxWriter, type InboxNote } from "./server/inbox-writer.js";
export { createJsonLogger, type Logger, type LogLevel } from "./server/logger.js";
export { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard } from "./server/replay-guard.js";
export { sign, verifyConnectorSignature, verifyIntercomSignature, verifyZendeskSignature } from "./server/signatures.js";
export { startBridge, type RunningBridge } from "./cli/bridge.js";
export { ConfigError, loadConfig, SETTINGS, type BridgeConfig, type Destination } from "./cli/config.js";
