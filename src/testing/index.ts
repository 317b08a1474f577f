/** Test doubles for users of this library: a writer that records instead of posting. */
export {
  RecordingChatbotWriter,
  createTestWriter,
  type PostBehaviour,
  type PostGate,
  type RecordedCall,
  type RetryableFailure,
} from "./recording-writer.js";
