/** The recommended entry point: state, linking and delivery in one object (SPEC §7). */
export {
  AutoplayChatbotManager,
  type ActionsOutcome,
  type AutoplayChatbotManagerOptions,
  type ChatbotEventOutcome,
} from "./autoplay-chatbot-manager.js";
