/** Test doubles for users of this library: a writer that records instead of posting. */
export { RecordingChatbotWriter, createTestWriter, type PostBehaviour, type RecordedCall } from "./recording-writer.js";
