/**
 * The OpenAPI 3.1 description of the bridge's HTTP surface, served at `GET /openapi.json`.
 * `openapi.test.ts` sends real requests to the app and checks every answer against it, so the
 * description cannot drift from the code. Which routes are mounted depends on the settings
 * (README, "HTTP surface"); the description lists them all.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ref("Error"), description);
const str = { type: "string" };
const int = { type: "integer", minimum: 0 };
const strOrNull = { type: ["string", "null"] };

/** The feed's frames (docs: README, "The inbox feed"): the `data:` of each is one line of JSON. */
const FEED_FRAMES = [
  "`snapshot`: InboxSnapshot, first on every connection (and again after a reconnect).",
  "`session`: SessionView, a session appeared or changed.",
  "`session-removed`: {session_id}, a session was forgotten.",
  "`note`: {conversation_id, note: NoteView}, a note was posted.",
  "`redacted`: {conversation_id, note_id}, a note was removed.",
  "`dead-letters`: {count, dead_letters: [DeadLetter]}, the dead letters changed.",
].join(" ");

/** Each feed frame's `event:` name → the schema of its `data:` JSON. */
const FEED_EVENTS = {
  snapshot: ref("InboxSnapshot"),
  session: ref("SessionView"),
  "session-removed": { type: "object", required: ["session_id"], properties: { session_id: str }, additionalProperties: false },
  note: { type: "object", required: ["conversation_id", "note"], properties: { conversation_id: str, note: ref("NoteView") }, additionalProperties: false },
  redacted: { type: "object", required: ["conversation_id", "note_id"], properties: { conversation_id: str, note_id: str }, additionalProperties: false },
  "dead-letters": ref("DeadLetters"),
};

/** Answers every JSON route may give besides its own. */
const COMMON = {
  "400": error("malformed input; `error.field` names the field at fault"),
  "404": error("the route is not mounted with these settings"),
  "408": error("the request was not sent within REQUEST_TIMEOUT_MS"),
  "413": error("the body is over MAX_BODY_BYTES"),
  "415": error("the body is not `Content-Type: application/json`"),
  "503": error("not recorded, retry: store unavailable, shutting down, the same delivery in progress, or too many bytes in flight (`busy`)"),
};
const REFUSED = { "401": error("missing or wrong signature or token, or the route's secret is not configured") };
const ADMIN = { "401": error("needs `Authorization: Bearer <ADMIN_TOKEN>` (or ADMIN_TOKEN is unset)"), "403": error("loopback-bound bridge reached with a Host that is not a loopback name") };
const LINKED = { "200": json({ oneOf: [ref("Linked"), ref("Ignored"), ref("Duplicate")] }, "linked, ignored (topic not handled, no session attribute) or a repeated delivery"), "409": json(ref("Conflict"), "another session owns the conversation") };
const body = (schema: Json, required = true) => ({ required, content: { "application/json": { schema } } });

const schemas: Record<string, Json> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: { error: { type: "object", required: ["code", "message"], properties: { code: str, message: str, field: str }, additionalProperties: false } },
    additionalProperties: false,
  },
  Accepted: {
    type: "object",
    required: ["status", "session_id", "actions", "new", "duplicates"],
    properties: { status: { const: "accepted" }, session_id: str, actions: int, new: int, duplicates: int },
    additionalProperties: false,
  },
  SummaryRecorded: {
    type: "object",
    description: "a connector summary payload: queued after what the session owes (its covered notes are redacted once it is posted), or unlinked (no conversation: nothing done)",
    required: ["status", "session_id", "redactions"],
    properties: { status: { enum: ["queued", "unlinked"] }, session_id: str, redactions: int },
    additionalProperties: false,
  },
  Duplicate: { type: "object", required: ["status"], properties: { status: { const: "duplicate" } }, additionalProperties: false },
  Ignored: { type: "object", required: ["status", "reason"], properties: { status: { const: "ignored" }, reason: str }, additionalProperties: false },
  Linked: {
    type: "object",
    required: ["status", "event", "conversation_id", "changed"],
    properties: { status: { const: "linked" }, event: { enum: ["new", "reply_existing"] }, conversation_id: strOrNull, changed: { type: "boolean" } },
    additionalProperties: false,
  },
  Conflict: { type: "object", required: ["status", "owner"], properties: { status: { const: "conflict" }, owner: str }, additionalProperties: false },
  Status: { type: "object", required: ["status"], properties: { status: { enum: ["ok", "ready", "not_ready"] } }, additionalProperties: false },
  SlimAction: {
    type: "object",
    description: "lenient: missing fields take defaults, numeric strings are read as numbers; extra fields are ignored",
    properties: { index: { type: ["integer", "string"] }, type: str, title: str, description: str, canonical_url: str, raw_url: str, timestamp_start: { type: ["number", "string"] }, timestamp_end: { type: ["number", "string"] } },
  },
  ActionsPayload: {
    type: "object",
    required: ["type", "session_id", "actions"],
    properties: { type: { const: "actions" }, product_id: str, session_id: str, user_id: strOrNull, email: strOrNull, actions: { type: "array", items: ref("SlimAction") }, count: int, forwarded_at: { type: "number" }, conversation_id: strOrNull },
  },
  SummaryPayload: {
    type: "object",
    required: ["type", "session_id", "summary"],
    properties: { type: { const: "summary" }, product_id: str, session_id: str, summary: str, replaces: int, forwarded_at: { type: "number" } },
  },
  IntercomNotification: {
    type: "object",
    required: ["topic"],
    properties: {
      type: str,
      id: str,
      topic: { type: "string", description: "conversation.user.created links (new), conversation.user.replied links only an unlinked session (reply_existing); others are ignored" },
      data: { type: "object", properties: { item: { type: "object", properties: { id: { type: ["string", "integer"] }, custom_attributes: { type: "object" } } } } },
    },
  },
  ZendeskTrigger: {
    type: "object",
    required: ["session_id"],
    properties: { ticket_id: { type: ["string", "integer"] }, ticket: { type: "object", properties: { id: { type: ["string", "integer"] } } }, session_id: str },
  },
  LinkRequest: { type: "object", required: ["session_id", "conversation_id"], properties: { session_id: str, conversation_id: { type: ["string", "integer"] } } },
  InboxNote: { type: "object", required: ["id", "sessionId", "body", "at"], properties: { id: str, sessionId: str, body: str, at: { type: "string", format: "date-time" } } },
  Inbox: { type: "object", required: ["conversations"], properties: { conversations: { type: "object", additionalProperties: { type: "array", items: ref("InboxNote") } } } },
  DeadLetter: {
    type: "object",
    required: ["id", "session_id", "conversation_id", "reason", "error", "attempts", "kind", "at", "actions", "body"],
    properties: {
      id: str,
      session_id: str,
      conversation_id: strOrNull,
      reason: str,
      error: str,
      attempts: int,
      kind: str,
      at: { type: "string", format: "date-time" },
      actions: { type: "array", items: { type: "object", required: ["timestamp_start", "description"], properties: { timestamp_start: { type: ["number", "null"] }, description: strOrNull } } },
      body: str,
    },
  },
  DeadLetters: { type: "object", required: ["count", "dead_letters"], properties: { count: int, dead_letters: { type: "array", items: ref("DeadLetter") } }, additionalProperties: false },
  SessionView: {
    type: "object",
    required: ["session_id", "state", "linked", "conversation_id", "buffered_actions", "last_activity_at"],
    properties: { session_id: str, state: strOrNull, linked: { type: "boolean" }, conversation_id: strOrNull, buffered_actions: int, last_activity_at: { type: "string", format: "date-time" } },
    additionalProperties: false,
  },
  NoteView: {
    type: "object",
    required: ["id", "session_id", "kind", "body", "at"],
    properties: { id: str, session_id: str, kind: { enum: ["flush", "debounced", null] }, body: str, at: { type: "string", format: "date-time" } },
    additionalProperties: false,
  },
  ConversationView: { type: "object", required: ["conversation_id", "session_id", "notes"], properties: { conversation_id: str, session_id: strOrNull, notes: { type: "array", items: ref("NoteView") } }, additionalProperties: false },
  InboxSnapshot: {
    type: "object",
    required: ["sessions", "conversations", "dead_letters"],
    properties: { sessions: { type: "array", items: ref("SessionView") }, conversations: { type: "array", items: ref("ConversationView") }, dead_letters: { type: "array", items: ref("DeadLetter") } },
    additionalProperties: false,
  },
  OpenChatRequest: { type: "object", required: ["session_id"], properties: { session_id: str } },
  ChatOpened: { type: "object", required: ["status", "session_id", "conversation_id"], properties: { status: { const: "linked" }, session_id: str, conversation_id: str }, additionalProperties: false },
  RedriveRequest: { type: "object", properties: { ids: { type: "array", items: { type: "string", minLength: 1 } } } },
  RedriveOutcome: { type: "object", required: ["requeued", "actions", "missing"], properties: { requeued: int, actions: int, missing: { type: "array", items: str } }, additionalProperties: false },
};

const paths: Record<string, Json> = {
  "/events": {
    post: {
      summary: "connector push of a payload (mounted in push mode, and in pull mode with CONNECTOR_SECRET)",
      security: [{ connectorSignature: [] }],
      requestBody: body({ oneOf: [ref("ActionsPayload"), ref("SummaryPayload")] }),
      responses: { "202": json({ oneOf: [ref("Accepted"), ref("SummaryRecorded"), ref("Duplicate"), ref("Ignored")] }, "recorded (or a replayed body, an unknown payload type, or a summary the engine cannot run)"), ...REFUSED, ...COMMON },
    },
  },
  "/webhooks/intercom": {
    post: { summary: "Intercom webhook (DESTINATION=intercom and the inbox demo)", security: [{ intercomSignature: [] }], requestBody: body(ref("IntercomNotification")), responses: { ...LINKED, ...REFUSED, ...COMMON } },
  },
  "/webhooks/zendesk": {
    post: {
      summary: "Zendesk trigger webhook (DESTINATION=zendesk); stale timestamps (over 5 min) are refused",
      security: [{ zendeskSignature: [] }],
      requestBody: body(ref("ZendeskTrigger")),
      responses: { ...LINKED, ...REFUSED, ...COMMON },
    },
  },
  "/links": {
    post: { summary: "link a session to a conversation (404 unless LINK_TOKEN is set)", security: [{ linkToken: [] }], requestBody: body(ref("LinkRequest")), responses: { ...LINKED, ...REFUSED, ...COMMON } },
  },
  "/inbox": {
    get: { summary: "the embedded destination's conversations and notes (DESTINATION=inbox; admin)", security: [{}, { adminToken: [] }], responses: { "200": json(ref("Inbox"), "conversation id → its notes, oldest first"), ...ADMIN, "404": COMMON["404"] } },
  },
  "/dead-letters": {
    get: { summary: "undelivered notes, oldest first (admin)", security: [{}, { adminToken: [] }], responses: { "200": json(ref("DeadLetters"), "the dead letters"), ...ADMIN, "503": COMMON["503"] } },
  },
  "/dead-letters/redrive": {
    post: {
      summary: "queue dead letters again for their session's current conversation (all without a body; always needs ADMIN_TOKEN)",
      security: [{ adminToken: [] }],
      requestBody: body(ref("RedriveRequest"), false),
      responses: { "200": json(ref("RedriveOutcome"), "re-driven"), ...ADMIN, ...COMMON },
    },
  },
  "/": {
    get: {
      summary: "the live inbox page (DESTINATION=inbox): sessions, conversations and dead letters, updated live; its script and style are /inbox/app.js and /inbox/app.css",
      responses: { "200": { description: "the page", content: { "text/html": { schema: str } } }, ...ADMIN },
    },
  },
  "/inbox/app.js": { get: { summary: "the inbox page's script", responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: str } } }, ...ADMIN } } },
  "/inbox/app.css": { get: { summary: "the inbox page's style", responses: { "200": { description: "CSS", content: { "text/css": { schema: str } } }, ...ADMIN } } },
  "/inbox/feed": {
    get: {
      summary: "the inbox page's server-sent events (admin): first `snapshot`, then `session`, `session-removed`, `note`, `redacted` and `dead-letters` frames",
      description: FEED_FRAMES,
      security: [{}, { adminToken: [] }],
      responses: { "200": { description: "an event stream: `event: <name>` and `data: <JSON>` per frame, `: keep-alive` comments", content: { "text/event-stream": { schema: str, "x-sse-events": FEED_EVENTS } } }, ...ADMIN, "503": COMMON["503"] },
    },
  },
  "/inbox/open-chat": {
    post: {
      summary: "Open chat: a new local conversation, linked to the session through the manager as a webhook would (admin; same-origin)",
      security: [{}, { adminToken: [] }],
      requestBody: body(ref("OpenChatRequest")),
      responses: {
        "200": json(ref("ChatOpened"), "linked: the pre-link buffer goes out as the flush note"),
        "400": COMMON["400"],
        ...ADMIN,
        "404": error("no such session on the inbox page"),
        "409": error("the session is already linked"),
        "415": COMMON["415"],
        "503": COMMON["503"],
      },
    },
  },
  "/healthz": { get: { summary: "liveness", responses: { "200": json(ref("Status"), "alive") } } },
  "/readyz": { get: { summary: "readiness: Redis reachable when configured, SSE stream not stopped for good", responses: { "200": json(ref("Status"), "ready"), "503": json(ref("Status"), "not ready") } } },
  "/metrics": { get: { summary: "Prometheus metrics (prom-client, with its default process metrics)", responses: { "200": { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: str } } } } } },
  "/openapi.json": { get: { summary: "this description", responses: { "200": json({ type: "object", required: ["openapi", "paths"] }, "OpenAPI 3.1") } } },
};

/** The OpenAPI 3.1 document (a fresh copy each call). */
export function openApiDocument(version = "0.0.0"): Record<string, Json> {
  return structuredClone({
    openapi: "3.1.0",
    info: { title: "autoplay-bridge", version, description: "The bridge service's HTTP surface. Only the routes of the configured setup are mounted; any other path answers 404, and a described path called with another method 405, both with the Error body." },
    paths,
    components: {
      schemas,
      securitySchemes: {
        connectorSignature: { type: "apiKey", in: "header", name: "X-Connector-Signature", description: "sha256=<hex HMAC-SHA256(CONNECTOR_SECRET, raw body)>" },
        intercomSignature: { type: "apiKey", in: "header", name: "X-Hub-Signature", description: "sha1=<hex HMAC-SHA1(INTERCOM_CLIENT_SECRET, raw body)>" },
        zendeskSignature: { type: "apiKey", in: "header", name: "X-Zendesk-Webhook-Signature", description: "base64 HMAC-SHA256(ZENDESK_WEBHOOK_SECRET, X-Zendesk-Webhook-Signature-Timestamp + raw body)" },
        linkToken: { type: "http", scheme: "bearer", description: "LINK_TOKEN" },
        adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN (the reading routes need none on a loopback-bound bridge)" },
      },
    },
  });
}
