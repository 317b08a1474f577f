/** The delivery policy: the abstract writer every platform integration extends (SPEC §4). */
export { BaseChatbotWriter, type PostContext } from "./base-chatbot-writer.js";
export type { ChatbotWriterOptions, ResolvedWriterOptions, RetryOptions, WriterLogger } from "./options.js";
export type { BufferedAction } from "./action-buffer.js";
export type { CloseSummary, DeadLetter, DeadLetterReason, NoteKind, WriterEvents } from "./events.js";
export type { WriterStats } from "./stats.js";
export { decideRetry, retryAfterHint, type RetryDecision } from "./retry-policy.js";
export type { SummaryCoverage, SummaryOutcome, WriteOutcome, RedriveOutcome } from "./delivery-engine.js";
export type { SequenceRange } from "./note-records.js";
