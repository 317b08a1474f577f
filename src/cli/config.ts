/**
 * The bridge's settings: each an environment variable and a flag (`PORT` ↔ `--port`), parsed and
 * validated once at start, with an error that names the bad setting.
 */

/** One missing or malformed setting: its environment variable name and what is wrong. */
export interface ConfigProblem {
  readonly setting: string;
  readonly message: string;
}

/**
 * Settings that are missing or malformed: every one of them (`problems`), so a start is fixed in
 * one go; `setting` is the first one's environment variable name.
 */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(
    readonly setting: string,
    message: string,
    more: readonly ConfigProblem[] = [],
  ) {
    const problems = [{ setting, message }, ...more];
    super(problems.map((p) => `${p.setting}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

import { isLoopbackAddress } from "../server/exposure.js";

export type Destination = "inbox" | "intercom" | "zendesk" | "http";

/** Which routes are mounted and who may reach them, derived from the settings (SPEC §9). */
export interface Exposure {
  /** Bound to loopback only (HOST is 127.0.0.0/8, ::1 or localhost). */
  loopback: boolean;
  /** Whether POST /events is mounted: always in push mode; in pull mode only with CONNECTOR_SECRET. */
  events: boolean;
  /** The chatbot webhook route mounted: the destination's own (inbox: the Intercom-shaped one). */
  webhooks: Array<"intercom" | "zendesk">;
  /** Mounted routes without a secret, each with the setting that would sign it. */
  unsigned: Array<{ route: string; setting: string }>;
  /** Whether those routes take unsigned requests (ALLOW_UNSIGNED, or the inbox default on loopback). */
  allowUnsigned: boolean;
}

/** Validated settings. */
export interface BridgeConfig {
  port: number;
  host: string;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  productId: string;
  connectorSecret: string | undefined;
  connectorStreamUrl: string | undefined;
  connectorToken: string | undefined;
  destination: Destination;
  intercom: { token: string | undefined; adminId: string | undefined; clientSecret: string | undefined; apiBase: string; version: string; sessionAttribute: string };
  zendesk: { apiBase: string | undefined; email: string | undefined; apiToken: string | undefined; webhookSecret: string | undefined; minSpacingMs: number };
  httpBridge: { url: string | undefined; token: string | undefined };
  linkToken: string | undefined;
  /** Bearer token of /inbox and /dead-letters. */
  adminToken: string | undefined;
  /** Routes and access, derived from the settings above. */
  exposure: Exposure;
  maxInFlightBytes: number;
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  connectorSilenceTimeoutMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  maxBodyBytes: number;
  postLinkDebounceMs: number;
  postTimeoutMs: number;
  platformRequestTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** LLM summaries (docs/summaries.md); off when `llmBaseUrl` is unset. */
  summaries: { llmBaseUrl: string | undefined; llmApiKey: string | undefined; llmModel: string; llmTimeoutMs: number; threshold: number };
}

/** Every setting: environment name, default, and what it is (for `--help` and the README). */
export const SETTINGS = {
  PORT: { default: "8787", help: "HTTP port" },
  HOST: { default: "127.0.0.1", help: "interface to listen on" },
  REDIS_URL: { default: undefined, help: "Redis for state, links and delivery; unset = in memory" },
  REDIS_KEY_PREFIX: { default: "autoplay:", help: "prefix of every Redis key; instances sharing work use the same one" },
  PRODUCT_ID: { default: "default", help: "product id (logs, metrics, SSE stream path)" },
  CONNECTOR_SECRET: { default: undefined, help: "HMAC secret of the connector's push signature (X-Connector-Signature)" },
  CONNECTOR_STREAM_URL: { default: undefined, help: "connector SSE stream URL: enables pull mode" },
  CONNECTOR_TOKEN: { default: undefined, help: "bearer token for the SSE stream" },
  CONNECTOR_SILENCE_TIMEOUT_MS: { default: "90000", help: "an SSE stream silent this long (no frame, no heartbeat) is reconnected" },
  DESTINATION: { default: "inbox", help: "inbox | intercom | zendesk | http" },
  INTERCOM_TOKEN: { default: undefined, help: "Intercom access token" },
  INTERCOM_ADMIN_ID: { default: undefined, help: "admin who authors the notes" },
  INTERCOM_CLIENT_SECRET: { default: undefined, help: "verifies X-Hub-Signature on Intercom webhooks" },
  INTERCOM_API_BASE: { default: "https://api.intercom.io", help: "Intercom API base URL" },
  INTERCOM_VERSION: { default: "2.16", help: "Intercom-Version header (2.16: the newest stable; skip_unsnooze needs \"Preview\")" },
  INTERCOM_SESSION_ATTRIBUTE: { default: "session_id", help: "conversation custom attribute holding the PostHog session id" },
  ZENDESK_API_BASE: { default: undefined, help: "e.g. https://acme.zendesk.com" },
  ZENDESK_EMAIL: { default: undefined, help: "agent email for the API token" },
  ZENDESK_API_TOKEN: { default: undefined, help: "Zendesk API token" },
  ZENDESK_WEBHOOK_SECRET: { default: undefined, help: "verifies X-Zendesk-Webhook-Signature" },
  ZENDESK_MIN_SPACING_MS: { default: "20000", help: "minimum time between notes on one ticket" },
  HTTP_BRIDGE_URL: { default: undefined, help: "endpoint of a home-made bot (DESTINATION=http)" },
  HTTP_BRIDGE_TOKEN: { default: undefined, help: "bearer token for HTTP_BRIDGE_URL" },
  LINK_TOKEN: { default: undefined, help: "bearer token for POST /links; unset = /links disabled" },
  ADMIN_TOKEN: { default: undefined, help: "bearer token for GET /inbox, GET /dead-letters, POST /dead-letters/redrive" },
  ALLOW_UNSIGNED: { default: "false", help: "true = mounted routes without a secret accept unsigned requests (never in production)" },
  LOG_LEVEL: { default: "info", help: "debug | info | warn | error" },
  MAX_BODY_BYTES: { default: "1048576", help: "largest request body accepted" },
  MAX_INFLIGHT_BYTES: { default: undefined, help: "request body bytes buffered across requests at most, 503 beyond (default max(32 MiB, 2 × MAX_BODY_BYTES))" },
  MAX_CONNECTIONS: { default: "1024", help: "open connections at most; further ones are closed" },
  HEADERS_TIMEOUT_MS: { default: "5000", help: "time a client has to send the request headers" },
  REQUEST_TIMEOUT_MS: { default: "15000", help: "time a client has to send the whole request" },
  POST_LINK_DEBOUNCE_MS: { default: "150", help: "quiet time that ends a post-link note" },
  POST_TIMEOUT_MS: { default: "10000", help: "a platform call slower than this is logged as slow (it is still awaited: it may land)" },
  PLATFORM_REQUEST_TIMEOUT_MS: { default: "30000", help: "longest one HTTP request to the platform may take; a hung request then fails and is retried (keep above POST_TIMEOUT_MS)" },
  SHUTDOWN_TIMEOUT_MS: { default: "10000", help: "bound on the drain at SIGTERM" },
  LLM_BASE_URL: { default: undefined, help: "OpenAI-compatible endpoint for summaries (POST {LLM_BASE_URL}/chat/completions); unset = summaries off" },
  LLM_API_KEY: { default: undefined, help: "bearer key of LLM_BASE_URL" },
  LLM_MODEL: { default: "gpt-4o-mini", help: "model of the summary requests" },
  LLM_TIMEOUT_MS: { default: "60000", help: "bound on one LLM request (retried on 429, 5xx and timeouts)" },
  SUMMARY_THRESHOLD: { default: "20", help: "new actions of a session that trigger a summary (the covered notes are then redacted)" },
} as const satisfies Record<string, { default: string | undefined; help: string }>;

export type SettingName = keyof typeof SETTINGS;

/** `PORT` → `--port`. */
export function flagOf(name: SettingName): string {
  return `--${name.toLowerCase().replace(/_/g, "-")}`;
}

/** Reads flags over environment variables over defaults, then validates. */
export function loadConfig(env: Record<string, string | undefined>, flags: Record<string, string | undefined> = {}): BridgeConfig {
  const raw = (name: SettingName): string | undefined => {
    const value = flags[name] ?? env[name] ?? SETTINGS[name].default;
    return value === "" ? undefined : value;
  };
  // Every problem is collected, not only the first: a bad value reads as its default meanwhile.
  const problems: ConfigProblem[] = [];
  const fallback = (name: SettingName): string | undefined => SETTINGS[name].default;
  const integer = (name: SettingName, value: string | undefined, min: number, max: number): number =>
    collect(problems, () => parseInteger(name, value, min, max), Number(fallback(name) ?? min));
  const nonEmpty = (name: SettingName, value: string | undefined): string => collect(problems, () => parseNonEmpty(name, value), fallback(name) ?? "");
  const url = (name: SettingName, value: string | undefined, protocols: readonly string[]): string | undefined =>
    collect(problems, () => parseUrl(name, value, protocols), fallback(name));
  const oneOf = <T extends string>(name: SettingName, value: string | undefined, allowed: readonly T[]): T =>
    collect(problems, () => parseOneOf(name, value, allowed), (fallback(name) ?? allowed[0]) as T);
  const maxBodyBytes = integer("MAX_BODY_BYTES", raw("MAX_BODY_BYTES"), 1024, 64 * 1024 * 1024);
  const inFlight = raw("MAX_INFLIGHT_BYTES");
  const config: BridgeConfig = {
    port: integer("PORT", raw("PORT"), 0, 65_535),
    host: raw("HOST") ?? "127.0.0.1",
    redisUrl: url("REDIS_URL", raw("REDIS_URL"), ["redis:", "rediss:"]),
    redisKeyPrefix: nonEmpty("REDIS_KEY_PREFIX", raw("REDIS_KEY_PREFIX")),
    productId: nonEmpty("PRODUCT_ID", raw("PRODUCT_ID")),
    connectorSecret: raw("CONNECTOR_SECRET"),
    connectorStreamUrl: url("CONNECTOR_STREAM_URL", raw("CONNECTOR_STREAM_URL"), ["http:", "https:"]),
    connectorToken: raw("CONNECTOR_TOKEN"),
    destination: oneOf("DESTINATION", raw("DESTINATION"), ["inbox", "intercom", "zendesk", "http"] as const),
    intercom: {
      token: raw("INTERCOM_TOKEN"),
      adminId: raw("INTERCOM_ADMIN_ID"),
      clientSecret: raw("INTERCOM_CLIENT_SECRET"),
      apiBase: url("INTERCOM_API_BASE", raw("INTERCOM_API_BASE"), ["http:", "https:"]) as string,
      version: nonEmpty("INTERCOM_VERSION", raw("INTERCOM_VERSION")),
      sessionAttribute: nonEmpty("INTERCOM_SESSION_ATTRIBUTE", raw("INTERCOM_SESSION_ATTRIBUTE")),
    },
    zendesk: {
      apiBase: url("ZENDESK_API_BASE", raw("ZENDESK_API_BASE"), ["http:", "https:"]),
      email: raw("ZENDESK_EMAIL"),
      apiToken: raw("ZENDESK_API_TOKEN"),
      webhookSecret: raw("ZENDESK_WEBHOOK_SECRET"),
      minSpacingMs: integer("ZENDESK_MIN_SPACING_MS", raw("ZENDESK_MIN_SPACING_MS"), 0, 3_600_000),
    },
    httpBridge: { url: url("HTTP_BRIDGE_URL", raw("HTTP_BRIDGE_URL"), ["http:", "https:"]), token: raw("HTTP_BRIDGE_TOKEN") },
    linkToken: raw("LINK_TOKEN"),
    adminToken: raw("ADMIN_TOKEN"),
    exposure: { loopback: true, events: true, webhooks: [], unsigned: [], allowUnsigned: false },
    maxInFlightBytes: inFlight === undefined ? Math.max(32 * 1024 * 1024, 2 * maxBodyBytes) : integer("MAX_INFLIGHT_BYTES", inFlight, maxBodyBytes, 2 ** 40),
    maxConnections: integer("MAX_CONNECTIONS", raw("MAX_CONNECTIONS"), 1, 1_000_000),
    headersTimeoutMs: integer("HEADERS_TIMEOUT_MS", raw("HEADERS_TIMEOUT_MS"), 100, 600_000),
    requestTimeoutMs: integer("REQUEST_TIMEOUT_MS", raw("REQUEST_TIMEOUT_MS"), 100, 3_600_000),
    connectorSilenceTimeoutMs: integer("CONNECTOR_SILENCE_TIMEOUT_MS", raw("CONNECTOR_SILENCE_TIMEOUT_MS"), 1_000, 3_600_000),
    logLevel: oneOf("LOG_LEVEL", raw("LOG_LEVEL"), ["debug", "info", "warn", "error"] as const),
    maxBodyBytes,
    postLinkDebounceMs: integer("POST_LINK_DEBOUNCE_MS", raw("POST_LINK_DEBOUNCE_MS"), 0, 600_000),
    postTimeoutMs: integer("POST_TIMEOUT_MS", raw("POST_TIMEOUT_MS"), 1, 600_000),
    platformRequestTimeoutMs: integer("PLATFORM_REQUEST_TIMEOUT_MS", raw("PLATFORM_REQUEST_TIMEOUT_MS"), 1, 3_600_000),
    shutdownTimeoutMs: integer("SHUTDOWN_TIMEOUT_MS", raw("SHUTDOWN_TIMEOUT_MS"), 0, 600_000),
    summaries: {
      llmBaseUrl: url("LLM_BASE_URL", raw("LLM_BASE_URL"), ["http:", "https:"]),
      llmApiKey: raw("LLM_API_KEY"),
      llmModel: nonEmpty("LLM_MODEL", raw("LLM_MODEL")),
      llmTimeoutMs: integer("LLM_TIMEOUT_MS", raw("LLM_TIMEOUT_MS"), 1, 3_600_000),
      threshold: integer("SUMMARY_THRESHOLD", raw("SUMMARY_THRESHOLD"), 1, 100_000),
    },
  };
  const destination = raw("DESTINATION");
  requireFor(problems, destination === "intercom", { INTERCOM_TOKEN: config.intercom.token, INTERCOM_ADMIN_ID: config.intercom.adminId }, "DESTINATION=intercom");
  requireFor(
    problems,
    destination === "zendesk",
    { ZENDESK_API_BASE: config.zendesk.apiBase, ZENDESK_EMAIL: config.zendesk.email, ZENDESK_API_TOKEN: config.zendesk.apiToken },
    "DESTINATION=zendesk",
  );
  requireFor(problems, destination === "http", { HTTP_BRIDGE_URL: config.httpBridge.url }, "DESTINATION=http");
  requireFor(problems, raw("CONNECTOR_STREAM_URL") !== undefined, { CONNECTOR_TOKEN: config.connectorToken }, "CONNECTOR_STREAM_URL");
  if (config.headersTimeoutMs > config.requestTimeoutMs) problems.push({ setting: "HEADERS_TIMEOUT_MS", message: "must not exceed REQUEST_TIMEOUT_MS" });
  const allowUnsigned = oneOf("ALLOW_UNSIGNED", raw("ALLOW_UNSIGNED"), ["true", "false"] as const) === "true";
  // Secrets are judged only for a destination that was read as given (not a fallback).
  if (destination === config.destination) config.exposure = exposureOf(config, allowUnsigned, problems);
  const [first, ...more] = problems;
  if (first !== undefined) throw new ConfigError(first.setting, first.message, more);
  return config;
}

/** Runs `parse`; a ConfigError is recorded in `problems` and `fallback` returned instead. */
function collect<T>(problems: ConfigProblem[], parse: () => T, fallback: T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return fallback;
  }
}

/**
 * Which routes are mounted, and whether the service may start: outside the embedded inbox on
 * loopback, a mounted route without its secret stops the start unless ALLOW_UNSIGNED=true.
 */
function exposureOf(config: BridgeConfig, allowUnsignedSetting: boolean, problems: ConfigProblem[]): Exposure {
  const loopback = isLoopbackAddress(config.host);
  const events = config.connectorStreamUrl === undefined || config.connectorSecret !== undefined;
  const webhooks: Exposure["webhooks"] = config.destination === "zendesk" ? ["zendesk"] : config.destination === "http" ? [] : ["intercom"];
  const unsigned: Exposure["unsigned"] = [];
  if (events && config.connectorSecret === undefined) unsigned.push({ route: "POST /events", setting: "CONNECTOR_SECRET" });
  if (webhooks.includes("intercom") && config.intercom.clientSecret === undefined) unsigned.push({ route: "POST /webhooks/intercom", setting: "INTERCOM_CLIENT_SECRET" });
  if (webhooks.includes("zendesk") && config.zendesk.webhookSecret === undefined) unsigned.push({ route: "POST /webhooks/zendesk", setting: "ZENDESK_WEBHOOK_SECRET" });
  const allowUnsigned = allowUnsignedSetting || (config.destination === "inbox" && loopback);
  if (!allowUnsigned) {
    const why = config.destination === "inbox" ? `with DESTINATION=inbox bound beyond loopback (HOST=${config.host})` : `with DESTINATION=${config.destination}`;
    for (const open of unsigned) problems.push({ setting: open.setting, message: `required ${why}: ${open.route} would accept unsigned requests (ALLOW_UNSIGNED=true accepts them anyway)` });
  }
  return { loopback, events, webhooks, unsigned, allowUnsigned };
}

/** Every secret value of a config, for log redaction. */
export function secretsOf(config: BridgeConfig): string[] {
  const values = [
    config.connectorSecret,
    config.connectorToken,
    config.intercom.token,
    config.intercom.clientSecret,
    config.zendesk.apiToken,
    config.zendesk.webhookSecret,
    config.httpBridge.token,
    config.linkToken,
    config.adminToken,
    config.summaries.llmApiKey,
  ];
  return values.filter((v): v is string => v !== undefined);
}

function requireFor(problems: ConfigProblem[], when: boolean, values: Record<string, string | undefined>, reason: string): void {
  if (!when) return;
  for (const [name, value] of Object.entries(values)) if (value === undefined) problems.push({ setting: name, message: `required with ${reason}` });
}

function parseInteger(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value ?? "")}`);
  }
  return n;
}

function parseNonEmpty(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === "") throw new ConfigError(name, "must not be empty");
  return value;
}

function parseOneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value ?? "")}`);
  return value as T;
}

function parseUrl(name: string, value: string | undefined, protocols: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `expected a URL, got ${JSON.stringify(value.replace(/\/\/[^@/]*@/, "//***@"))}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `expected a ${protocols.join(" or ")} URL`);
  return value.replace(/\/+$/, "");
}
