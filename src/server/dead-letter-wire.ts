import type { DeadLetter } from "../writer/events.js";

/** A dead letter as the service shows it (`GET /dead-letters`, the inbox feed): snake_case, ISO time. */
export interface DeadLetterWire {
  id: string;
  session_id: string;
  conversation_id: string;
  reason: string;
  error: string;
  attempts: number;
  kind: string;
  at: string;
  actions: Array<{ timestamp_start: number; description: string }>;
  body: string;
}

/** The one wire form of a dead letter, so the admin route and the inbox page cannot drift apart. */
export function deadLetterToWire(letter: DeadLetter): DeadLetterWire {
  return {
    id: letter.id,
    session_id: letter.sessionId,
    conversation_id: letter.conversationId,
    reason: letter.reason,
    error: letter.error,
    attempts: letter.attempts,
    kind: letter.kind,
    at: new Date(letter.at).toISOString(),
    actions: letter.actions.map((a) => ({ timestamp_start: a.timestamp_start, description: a.description })),
    body: letter.body,
  };
}
