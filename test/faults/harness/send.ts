/**
 * What the connector and the chat platforms send to the bridge: signed action batches, Intercom
 * and Zendesk webhooks, `POST /links`. Like a real connector, a batch answered 5xx (or a dropped
 * connection) is sent again, bounded in count and time; a 4xx is final.
 */
import type { SlimAction } from "../../../src/payloads/types.js";
import { createHmac } from "node:crypto";

export const SECRETS = {
  connector: "faults-connector-secret",
  intercomClient: "faults-intercom-client-secret",
  intercomToken: "faults-intercom-token",
  intercomAdmin: "7001",
  zendeskEmail: "agent@faults.test",
  zendeskToken: "faults-zendesk-token",
  zendeskWebhook: "faults-zendesk-webhook-secret",
  httpToken: "faults-http-token",
  link: "faults-link-token",
  admin: "faults-admin-token",
} as const;

export const sign = {
  connector: (raw: string | Buffer, secret: string = SECRETS.connector) => `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`,
  intercom: (raw: string | Buffer, secret: string = SECRETS.intercomClient) => `sha1=${createHmac("sha1", secret).update(raw).digest("hex")}`,
  zendesk: (raw: string | Buffer, timestamp: string, secret: string = SECRETS.zendeskWebhook) =>
    createHmac("sha256", secret).update(timestamp).update(raw).digest("base64"),
};

/** Settings every scenario shares: every route signed, short debounce and timeouts. */
const COMMON = {
  CONNECTOR_SECRET: SECRETS.connector,
  ADMIN_TOKEN: SECRETS.admin,
  LINK_TOKEN: SECRETS.link,
  POST_LINK_DEBOUNCE_MS: "100",
  POST_TIMEOUT_MS: "1000",
  SHUTDOWN_TIMEOUT_MS: "5000",
};

export function intercomEnv(apiBase: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    ...COMMON,
    DESTINATION: "intercom",
    INTERCOM_TOKEN: SECRETS.intercomToken,
    INTERCOM_ADMIN_ID: SECRETS.intercomAdmin,
    INTERCOM_API_BASE: apiBase,
    INTERCOM_CLIENT_SECRET: SECRETS.intercomClient,
    ...more,
  };
}

export function zendeskEnv(apiBase: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    ...COMMON,
    DESTINATION: "zendesk",
    ZENDESK_API_BASE: apiBase,
    ZENDESK_EMAIL: SECRETS.zendeskEmail,
    ZENDESK_API_TOKEN: SECRETS.zendeskToken,
    ZENDESK_WEBHOOK_SECRET: SECRETS.zendeskWebhook,
    ZENDESK_MIN_SPACING_MS: "300",
    ...more,
  };
}

export function httpEnv(endpoint: string, more: Record<string, string> = {}): Record<string, string> {
  return { ...COMMON, DESTINATION: "http", HTTP_BRIDGE_URL: endpoint, HTTP_BRIDGE_TOKEN: SECRETS.httpToken, ...more };
}

/** The answer to one request (after the sender's retries). */
export interface Sent {
  status: number;
  body: unknown;
  /** Requests made (1 + retries). */
  tries: number;
  /** Slowest single request, ms. */
  slowestMs: number;
  /** Statuses of every try (0 = no answer). */
  statuses: number[];
}

export interface SendOptions {
  headers?: Record<string, string>;
  /** Retry 5xx / no answer. @default true */
  retry?: boolean;
  /** Most tries. @default 30 */
  maxTries?: number;
  /** Give up retrying after this long, ms. @default 20_000 */
  deadlineMs?: number;
  /** Per request, ms. @default 10_000 */
  requestTimeoutMs?: number;
}

export async function post(url: string, body: string | Buffer, options: SendOptions = {}): Promise<Sent> {
  const { retry = true, maxTries = 30, deadlineMs = 20_000, requestTimeoutMs = 10_000 } = options;
  const started = Date.now();
  const statuses: number[] = [];
  let slowestMs = 0;
  for (let tries = 1; ; tries++) {
    const t0 = Date.now();
    let status = 0;
    let parsed: unknown;
    try {
      const res = await fetch(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...options.headers },
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      status = res.status;
      const text = await res.text();
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text;
      }
    } catch (error) {
      parsed = error instanceof Error ? error.message : String(error);
    }
    slowestMs = Math.max(slowestMs, Date.now() - t0);
    statuses.push(status);
    const again = retry && (status === 0 || status >= 500) && tries < maxTries && Date.now() - started < deadlineMs;
    if (!again) return { status, body: parsed, tries, slowestMs, statuses };
    await sleep(Math.min(1000, 100 * tries));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it holds or `timeoutMs` passed; resolves whether it held. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // a check that throws (a fetch to a bridge that is gone) simply does not hold yet
    }
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** An action on the wire (the library's own wire type). */
export type WireAction = SlimAction;

export function actionsBody(sessionId: string, actions: readonly unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: "actions",
    product_id: "faults",
    session_id: sessionId,
    user_id: null,
    email: null,
    actions,
    count: actions.length,
    forwarded_at: Date.now() / 1000,
    conversation_id: null,
    ...extra,
  });
}

/** POST /events, signed. */
export function sendEvents(bridgeUrl: string, body: string | Buffer, options: SendOptions = {}): Promise<Sent> {
  return post(`${bridgeUrl}/events`, body, { ...options, headers: { "x-connector-signature": sign.connector(body), ...options.headers } });
}

/** A signed Intercom notification that links `sessionId` to `conversationId`. */
export function intercomWebhook(
  bridgeUrl: string,
  hook: { id: string; conversationId: string; sessionId: string; topic?: string },
  options: SendOptions = {},
): Promise<Sent> {
  const body = JSON.stringify({
    type: "notification_event",
    id: hook.id,
    topic: hook.topic ?? "conversation.user.created",
    data: { item: { type: "conversation", id: hook.conversationId, custom_attributes: { session_id: hook.sessionId } } },
  });
  return post(`${bridgeUrl}/webhooks/intercom`, body, { ...options, headers: { "x-hub-signature": sign.intercom(body), ...options.headers } });
}

/** A signed Zendesk trigger webhook. */
export function zendeskWebhook(bridgeUrl: string, hook: { ticketId: string | number; sessionId: string }, options: SendOptions = {}): Promise<Sent> {
  const body = JSON.stringify({ ticket_id: hook.ticketId, session_id: hook.sessionId });
  const at = new Date().toISOString();
  return post(`${bridgeUrl}/webhooks/zendesk`, body, {
    ...options,
    headers: { "x-zendesk-webhook-signature": sign.zendesk(body, at), "x-zendesk-webhook-signature-timestamp": at, ...options.headers },
  });
}

/** POST /links with the link token. */
export function linkSession(bridgeUrl: string, sessionId: string, conversationId: string, options: SendOptions = {}): Promise<Sent> {
  return post(`${bridgeUrl}/links`, JSON.stringify({ session_id: sessionId, conversation_id: conversationId }), {
    ...options,
    headers: { authorization: `Bearer ${SECRETS.link}`, ...options.headers },
  });
}

/** GET a bridge route's text ("" when it does not answer). */
export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: "" };
  }
}

/** The value of a Prometheus sample (summed over label sets matching `labels`), or 0. */
export function metric(text: string, name: string, labels: RegExp = /.*/): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name || !labels.test(match[2] ?? "")) continue;
    total += Number(match[3]);
  }
  return total;
}
