/**
 * How a chatbot conversation relates to a session when it is linked (SPEC §5, "Conversation
 * events"). The values are stable wire values.
 */
export const ConversationEventType = {
  /** A new conversation for this session: link it, replacing any earlier conversation id. */
  NEW: "new",
  /** A reply in an existing conversation: link only a session that is not linked yet. */
  REPLY_EXISTING: "reply_existing",
} as const;

/** One of the {@link ConversationEventType} values. */
export type ConversationEventType = (typeof ConversationEventType)[keyof typeof ConversationEventType];

const EVENT_TYPES: ReadonlySet<unknown> = new Set(Object.values(ConversationEventType));

/** Whether `value` is one of the {@link ConversationEventType} values. */
export function isConversationEventType(value: unknown): value is ConversationEventType {
  return EVENT_TYPES.has(value);
}
