/** Session identity, conversation link and the assistance FSM (SPEC §5). */
export { AgentState, isAgentState } from "./agent-state.js";
export { ConversationEventType, isConversationEventType } from "./conversation-event.js";
export { ALLOWED_TRANSITIONS, applyTransition, isAllowedTransition } from "./transitions.js";
export {
  DEFAULT_COOLDOWN_MS,
  DEFAULT_INTERACTION_TIMEOUT_MS,
  SessionState,
  type ProactiveDeliveryCheck,
  type SessionStateOptions,
  type SessionStateRestoreOptions,
  type TourOverrides,
} from "./session-state.js";
export {
  MAX_PREVIOUS_CONVERSATIONS,
  SESSION_SNAPSHOT_VERSION,
  parseSessionSnapshot,
  type SessionSnapshot,
  type TourOverridesSnapshot,
} from "./session-snapshot.js";
