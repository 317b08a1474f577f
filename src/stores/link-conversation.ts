import { ConversationEventType, isConversationEventType } from "../session/conversation-event.js";
import type { SessionState } from "../session/session-state.js";
import { invalidOption, requireNonEmptyString } from "../session/validation.js";
import type { ConversationLinkStore } from "./types.js";

/** The outcome of {@link linkConversation}. */
export type LinkResult =
  | {
      ok: true;
      /** The event applied to the state (inferred or forced). */
      event: ConversationEventType;
      /** Whether the state's link fields changed (save it if so). */
      changed: boolean;
    }
  | {
      ok: false;
      reason: "conflict";
      /** The session that already owns the conversation. */
      owner: string;
    };

/**
 * Links `conversationId` to `state`'s session (SPEC §6): claims it in the link store first, then
 * applies `state.onConversationLinked`. The event is REPLY_EXISTING when the store already maps
 * the conversation to this session and the state has known it (or is unlinked), NEW otherwise,
 * unless `eventType` forces one. A
 * conversation owned by another session is a conflict: neither the state nor the store changes.
 * The caller persists the state afterwards.
 * @throws TypeError for an empty conversation id or an unknown event type; store errors propagate.
 */
export async function linkConversation(
  state: SessionState,
  conversationId: string,
  linkStore: ConversationLinkStore,
  eventType?: ConversationEventType,
): Promise<LinkResult> {
  requireNonEmptyString("conversationId", conversationId);
  if (eventType !== undefined && !isConversationEventType(eventType)) {
    invalidOption("eventType", "a ConversationEventType or undefined", eventType);
  }
  if (eventType === ConversationEventType.REPLY_EXISTING && state.conversationLinked) {
    // A reply can never move a linked session, so it must not claim the conversation either:
    // the claim would make it "owned" by a session that does not deliver there.
    const owner = await linkStore.get(conversationId);
    if (owner !== null && owner !== state.sessionId) return { ok: false, reason: "conflict", owner };
    return { ok: true, event: eventType, changed: false };
  }
  // One atomic claim both detects a prior link and writes ours: a get-then-set would let two
  // sessions race for the same conversation.
  const claim = await linkStore.claim(conversationId, state.sessionId);
  if (claim.owner !== state.sessionId) return { ok: false, reason: "conflict", owner: claim.owner };
  const event = eventType ?? inferEvent(state, conversationId, claim.created);
  return { ok: true, event, changed: state.onConversationLinked(conversationId, event) };
}

/**
 * NEW for a conversation the link store did not know, and also for one it names for this session
 * while the state, linked elsewhere, was never linked to it: that claim was made by an earlier try
 * whose state save failed (or lost a race), and the event it decided was NEW. Without this a
 * re-sent webhook would read the claim as "existing" and leave the session on its old conversation.
 */
function inferEvent(state: SessionState, conversationId: string, created: boolean): ConversationEventType {
  if (created) return ConversationEventType.NEW;
  if (state.conversationLinked && !state.knowsConversation(conversationId)) return ConversationEventType.NEW;
  return ConversationEventType.REPLY_EXISTING;
}
