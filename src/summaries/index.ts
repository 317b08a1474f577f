/** Summaries (SPEC §8): an LLM condenses a session's actions; the writer posts the summary, then redacts what it covers. */
export {
  DEFAULT_SUMMARY_PROMPT,
  SessionSummarizer,
  formatActionsForPrompt,
  type FormatActions,
  type SessionSummarizerOptions,
  type SessionSummary,
  type SummarizerAction,
  type SummarizerStats,
  type SummaryHandler,
  type SummaryLlm,
} from "./session-summarizer.js";
export { AgentContextWriter, type AgentContextWriterOptions } from "./agent-context-writer.js";
export { LlmRequestError, openAiChatLlm, type OpenAiChatOptions } from "./openai-chat.js";
