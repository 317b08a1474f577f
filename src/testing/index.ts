/** Test doubles for users of this library: a writer that records instead of posting. */
export {
  RecordingChatbotWriter,
  createTestWriter,
  type PostBehaviour,
  type PostGate,
  type RecordedCall,
  type RecordedRedaction,
  type RetryableFailure,
} from "./recording-writer.js";
export { ScriptedLlm, type LlmBehaviour, type LlmGate } from "./scripted-llm.js";
