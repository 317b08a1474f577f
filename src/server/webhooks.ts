/** The routes that change where actions go: chatbot webhooks and `POST /links`. */
import type { IncomingMessage } from "node:http";
import { checkConversationId } from "../conversation-id.js";
import { PayloadError } from "../errors.js";
import type { ChatbotEventOutcome } from "../manager/autoplay-chatbot-manager.js";
import { ConversationEventType } from "../session/conversation-event.js";
import { digest, header, once, parseJson, unsignedAllowed, type AppContext, type Reply } from "./context.js";
import { hasBearer } from "./exposure.js";
import { HttpError } from "./http.js";
import { verifyIntercomSignature, verifyZendeskSignature } from "./signatures.js";

const INTERCOM_TOPICS: Record<string, ConversationEventType> = {
  "conversation.user.created": ConversationEventType.NEW,
  "conversation.user.replied": ConversationEventType.REPLY_EXISTING,
};

/** `POST /webhooks/intercom`: links on `conversation.user.created` / `.replied`. */
export async function intercomWebhook(c: AppContext, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  const secret = c.intercom.clientSecret;
  if (!unsignedAllowed(c, "/webhooks/intercom", secret, "INTERCOM_CLIENT_SECRET") && !verifyIntercomSignature(raw, header(req, "x-hub-signature"), secret as string)) {
    throw c.refuse("/webhooks/intercom", "X-Hub-Signature does not match the body");
  }
  const notification = parseJson(raw);
  const event = typeof notification.topic === "string" ? INTERCOM_TOPICS[notification.topic] : undefined;
  if (event === undefined) return { status: 200, body: { status: "ignored", reason: "topic not handled" } };
  const data = notification.data;
  const item = isObject(data) && isObject(data.item) ? data.item : undefined;
  if (item === undefined) throw invalid("data.item", "an object (the conversation)");
  const conversationId = conversationIdOf(item.id, "data.item.id");
  const attributes = item.custom_attributes;
  const sessionId = isObject(attributes) ? attributes[c.intercom.sessionAttribute] : undefined;
  if (typeof sessionId !== "string" || sessionId === "") {
    return { status: 200, body: { status: "ignored", reason: `no ${c.intercom.sessionAttribute} attribute on the conversation` } };
  }
  const id = typeof notification.id === "string" ? notification.id : digest(raw);
  return once(c.replay, `intercom:${id}`, () => link(c, sessionId, conversationId, event), { status: 200, body: { status: "duplicate" } });
}

/** `POST /webhooks/zendesk`: a trigger's `{"ticket_id", "session_id"}`. */
export async function zendeskWebhook(c: AppContext, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  const secret = c.zendeskWebhookSecret;
  const timestamp = header(req, "x-zendesk-webhook-signature-timestamp");
  if (
    !unsignedAllowed(c, "/webhooks/zendesk", secret, "ZENDESK_WEBHOOK_SECRET") &&
    !verifyZendeskSignature(raw, header(req, "x-zendesk-webhook-signature"), timestamp, secret as string, (c.now ?? Date.now)())
  ) {
    throw c.refuse("/webhooks/zendesk", "X-Zendesk-Webhook-Signature does not match, or its timestamp is stale");
  }
  const body = parseJson(raw);
  const nested = isObject(body.ticket) ? body.ticket.id : undefined;
  const ticket = conversationIdOf(body.ticket_id ?? nested, body.ticket_id === undefined && nested !== undefined ? "ticket.id" : "ticket_id");
  const sessionId = sessionIdOf(body.session_id);
  return once(c.replay, `zendesk:${digest(Buffer.concat([Buffer.from(timestamp ?? ""), raw]))}`, () => link(c, sessionId, ticket), {
    status: 200,
    body: { status: "duplicate" },
  });
}

/** `POST /links`: `{"session_id","conversation_id"}` with the link bearer token. */
export async function links(c: AppContext, req: IncomingMessage, raw: Buffer): Promise<Reply> {
  if (c.linkToken === undefined) throw new HttpError(404, "links_disabled", "POST /links is disabled: set LINK_TOKEN");
  if (!hasBearer(header(req, "authorization"), c.linkToken)) throw c.refuse("/links", "a valid bearer token is required");
  const body = parseJson(raw);
  const sessionId = sessionIdOf(body.session_id);
  return link(c, sessionId, conversationIdOf(body.conversation_id, "conversation_id"));
}

async function link(c: AppContext, sessionId: string, conversationId: string, event?: ConversationEventType): Promise<Reply> {
  const outcome: ChatbotEventOutcome = await c.manager.onChatbotEvent(sessionId, conversationId, event);
  if (outcome.status === "conflict") {
    c.logger.warn("conversation already linked to another session", { sessionId, conversationId, owner: outcome.owner });
    return { status: 409, body: { status: "conflict", owner: outcome.owner } };
  }
  c.logger.info("session linked", { sessionId, conversationId: outcome.conversationId, event: outcome.event, changed: outcome.changed });
  return { status: 200, body: { status: "linked", event: outcome.event, conversation_id: outcome.conversationId, changed: outcome.changed } };
}

/** A conversation id as it enters: platform ids may be numbers; then {@link checkConversationId}. */
function conversationIdOf(value: unknown, field: string): string {
  const id = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  try {
    return checkConversationId(id, field);
  } catch (error) {
    if (error instanceof PayloadError) throw new HttpError(400, "invalid_conversation_id", error.reason, field);
    throw error;
  }
}

function sessionIdOf(value: unknown): string {
  if (typeof value !== "string" || value === "") throw invalid("session_id", "a non-empty string");
  return value;
}

function invalid(field: string, expected: string): HttpError {
  return new HttpError(400, "invalid_field", `${field} must be ${expected}`, field);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
