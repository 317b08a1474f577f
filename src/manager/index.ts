/** The recommended entry point: state, linking and delivery in one object (SPEC §7). */
export {
  AutoplayChatbotManager,
  DEFAULT_UNLINKED_STATE_TTL_MS,
  type ActionsOutcome,
  type AutoplayChatbotManagerOptions,
  type ChatbotEventOutcome,
  type ManagerStats,
  type OnActionsOptions,
  type OnSummaryOptions,
} from "./autoplay-chatbot-manager.js";
