import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectorStream } from "../connector/index.js";
import { ConcurrentUpdateError } from "../errors.js";
import { HttpBridgeWriter, IntercomWriter, ZendeskWriter } from "../integrations/index.js";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { RedisUnavailableError } from "../redis/commands.js";
import { redisBackends, type RedisBackends } from "../redis/redis-backends.js";
import { createBridgeApp } from "../server/app.js";
import { createBridgeMetrics } from "../server/bridge-metrics.js";
import { ByteBudget } from "../server/byte-budget.js";
import { startDemo } from "../demo/replay.js";
import { createInboxPage } from "../server/inbox/index.js";
import { InboxWriter } from "../server/inbox-writer.js";
import { createJsonLogger, type Logger } from "../server/logger.js";
import { rateLimitedLogger } from "../server/rate-limit.js";
import { MemoryReplayGuard, RedisReplayGuard } from "../server/replay-guard.js";
import { createBridgeServer } from "../server/server.js";
import { AgentContextWriter } from "../summaries/agent-context-writer.js";
import { openAiChatLlm } from "../summaries/openai-chat.js";
import { SessionSummarizer } from "../summaries/session-summarizer.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../writer/options.js";
import { ConfigError, secretsOf, type BridgeConfig } from "./config.js";

/** A running bridge. */
export interface RunningBridge {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly server: Server;
  readonly manager: AutoplayChatbotManager;
  /** Stops intake, drains pending notes (bounded by SHUTDOWN_TIMEOUT_MS), closes connections. Safe twice. */
  close(): Promise<void>;
  /** What an exit now would lose or leave behind (for the log line of a forced exit). */
  atRisk(): Record<string, unknown>;
}

/** Builds the writer of the configured destination. */
function createWriter(config: BridgeConfig, writerOptions: ChatbotWriterOptions): { writer: BaseChatbotWriter; inbox?: () => unknown; inboxWriter?: InboxWriter } {
  // The platform writers' transport bound: what makes a hung request settle at last.
  const transport = { requestTimeoutMs: config.platformRequestTimeoutMs };
  const common = { ...writerOptions, ...transport };
  switch (config.destination) {
    case "intercom":
      return {
        writer: new IntercomWriter({
          ...common,
          token: config.intercom.token as string,
          adminId: config.intercom.adminId as string,
          apiBase: config.intercom.apiBase,
          version: config.intercom.version,
        }),
      };
    case "zendesk":
      return {
        writer: new ZendeskWriter({
          ...common,
          apiBase: config.zendesk.apiBase as string,
          email: config.zendesk.email as string,
          apiToken: config.zendesk.apiToken as string,
          minSpacingMs: config.zendesk.minSpacingMs,
        }),
      };
    case "http":
      return { writer: new HttpBridgeWriter({ ...common, endpoint: config.httpBridge.url as string, token: config.httpBridge.token }) };
    case "inbox": {
      const writer = new InboxWriter(writerOptions);
      return { writer, inbox: () => writer.snapshot(), inboxWriter: writer };
    }
  }
}

/** Starts the bridge service described by `config`. */
export async function startBridge(config: BridgeConfig, options: { logger?: Logger; demo?: boolean } = {}): Promise<RunningBridge> {
  if (options.demo === true && config.destination !== "inbox") throw new ConfigError("DESTINATION", "--demo replays into the embedded inbox: unset DESTINATION or set it to inbox");
  if (config.redisUrl !== undefined) await requireRedisClient();
  const logger = options.logger ?? createJsonLogger({ level: config.logLevel, secrets: secretsOf(config) });
  // Library code may repeat a failure every poll (500 ms): once per window is enough; each dead
  // letter is logged in full, it carries what is needed to recover it.
  const libraryLogger = rateLimitedLogger(logger, { always: ["note dead-lettered"] });
  const redis: RedisBackends | undefined = config.redisUrl === undefined ? undefined : redisBackends({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix });
  const { writer, inbox, inboxWriter } = createWriter(config, {
    productId: config.productId,
    postLinkDebounceMs: config.postLinkDebounceMs,
    postTimeoutMs: config.postTimeoutMs,
    closeTimeoutMs: config.shutdownTimeoutMs,
    logger: libraryLogger,
    delivery: redis?.delivery,
  });
  logWriterEvents(writer, logger);
  const contextWriter = createContextWriter(config, writer, libraryLogger, logger);
  const manager = new AutoplayChatbotManager({ writer, contextWriter, sessionStore: redis?.sessionStore, linkStore: redis?.linkStore });
  // The live inbox page (GET /) and the demo replay: inbox mode only.
  const page = inboxWriter === undefined ? undefined : createInboxPage(inboxWriter, manager);
  const inFlight = new ByteBudget(config.maxInFlightBytes);
  let stream: ConnectorStream | undefined;
  const metrics = createBridgeMetrics(writer, {
    inFlight,
    manager,
    stream: config.connectorStreamUrl === undefined ? undefined : () => stream?.stats(),
    summarizer: () => manager.stats().summarizer,
    redisCommands: redis === undefined ? undefined : () => redis.connection.commandsSent,
  });
  let streamFailed = false;
  const { exposure } = config;
  const app = createBridgeApp({
    manager,
    logger,
    metrics,
    replay: redis === undefined ? new MemoryReplayGuard() : new RedisReplayGuard(redis.connection, `${config.redisKeyPrefix}seen:`),
    ready: async () => !streamFailed && (redis === undefined || (await redis.connection.sendCommand(["PING"])) === "PONG"),
    inbox,
    inboxPage: page?.routes,
    maxBodyBytes: config.maxBodyBytes,
    inFlight,
    events: exposure.events,
    webhooks: exposure.webhooks,
    allowUnsigned: exposure.allowUnsigned,
    loopback: exposure.loopback,
    adminToken: config.adminToken,
    connectorSecret: config.connectorSecret,
    intercom: { clientSecret: config.intercom.clientSecret, sessionAttribute: config.intercom.sessionAttribute },
    zendeskWebhookSecret: config.zendesk.webhookSecret,
    linkToken: config.linkToken,
  });
  const server = createBridgeServer(app, {
    maxConnections: config.maxConnections,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  try {
    await listen(server, config);
  } catch (error) {
    // Nothing was accepted yet: release what was built, so a caller may try another port.
    page?.close();
    await manager.close().catch(() => undefined);
    await redis?.close().catch(() => undefined);
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  if (redis !== undefined) await warnIfUnreachable(redis, logger);

  if (config.connectorStreamUrl !== undefined) {
    stream = new ConnectorStream({
      url: config.connectorStreamUrl,
      token: config.connectorToken as string,
      logger: libraryLogger,
      silenceTimeoutMs: config.connectorSilenceTimeoutMs,
      onPayload: async (payload) => {
        // The connector has no replay: a payload that cannot be recorded now is retried here.
        if (payload.type === "actions") await withRetries(() => manager.onActions(payload, { parsed: true }), logger);
        else if (writer.supportsSummaries) await withRetries(() => manager.onSummary(payload, { parsed: true }), logger);
      },
    });
    stream.start();
    stream.done.catch((error: unknown) => {
      streamFailed = true;
      logger.error("connector stream stopped for good", { error: error instanceof Error ? error.message : String(error) });
    });
  }
  warnAboutOpenDoors(config, logger);
  logger.info("bridge listening", {
    url,
    destination: config.destination,
    store: redis === undefined ? "memory" : "redis",
    pull: stream !== undefined,
    routes: [...(exposure.events ? ["POST /events"] : []), ...exposure.webhooks.map((w) => `POST /webhooks/${w}`), ...(config.linkToken === undefined ? [] : ["POST /links"])],
  });
  const demo = options.demo === true ? startDemo({ manager, productId: config.productId, onError: (error, sessionId) => logger.warn("demo: a batch was not recorded", { sessionId, error: String(error) }) }) : undefined;
  if (demo !== undefined) logger.info("demo: replaying a recorded stream of 4 users, looping; open the live inbox", { url: `${url}/` });

  const atRisk = (): Record<string, unknown> => {
    const stats = writer.stats();
    return {
      store: redis === undefined ? "memory" : "redis",
      sessions: stats.sessions,
      inFlight: stats.inFlight,
      deadLetters: stats.deadLetters,
      lost: redis === undefined
        ? "every buffered action, open debounce window, in-flight note and dead letter of this process"
        : "nothing recorded: buffers, claimed notes and dead letters stay in Redis for another instance or the next start",
    };
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info("bridge shutting down: draining pending notes");
      demo?.stop();
      page?.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await stream?.stop();
      // Summaries being written reach the writer before its drain.
      await manager.contextWriter?.close();
      const summary = await manager.writer.close();
      await manager.close();
      // Requests still open now (a stalled upload) would hold server.close() forever.
      server.closeAllConnections();
      await stopped;
      if (redis === undefined) await logLostDeadLetters(writer, logger);
      await redis?.close();
      logger.info("bridge stopped", { stats: writer.stats(), summary });
    })();
    return closing;
  };
  return { url, server, manager, close, atRisk };
}

/** A listen failure that names the setting to change (`HOST` or `PORT`). */
export class ListenError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ListenError";
  }
}

const LISTEN_HINTS: Record<string, (config: BridgeConfig) => string> = {
  EADDRINUSE: (c) => `PORT=${c.port} is already in use on HOST=${c.host}: stop the other process or set PORT (--port) to a free port`,
  EACCES: (c) => `not permitted to listen on PORT=${c.port} (ports below 1024 need privileges): set PORT (--port) to 1024 or above`,
  EADDRNOTAVAIL: (c) => `HOST=${c.host} is not an address of this machine: set HOST (--host) to one of its interfaces, e.g. 127.0.0.1 or 0.0.0.0`,
  ENOTFOUND: (c) => `HOST=${c.host} does not resolve: set HOST (--host) to an address or a resolvable name`,
  EAI_AGAIN: (c) => `HOST=${c.host} could not be resolved now: set HOST (--host) to an address`,
};

function listen(server: Server, config: BridgeConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "";
      const hint = LISTEN_HINTS[code];
      reject(hint === undefined ? error : new ListenError(code, `cannot listen on HOST=${config.host} PORT=${config.port} (${code}): ${hint(config)}`, { cause: error }));
    });
    server.listen(config.port, config.host, () => resolve());
  });
}

/** `@redis/client` is an optional peer dependency: with REDIS_URL set, say how to install it rather than fail later. */
async function requireRedisClient(): Promise<void> {
  try {
    await import("@redis/client");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((error as Error).message).includes("@redis/client")) {
      throw new ConfigError("REDIS_URL", "is set, but the optional package @redis/client is not installed: run `npm install @redis/client` (or unset REDIS_URL to keep state in memory)");
    }
    throw error;
  }
}

/**
 * LLM summaries when LLM_BASE_URL is set: an OpenAI-compatible endpoint, SUMMARY_THRESHOLD new
 * actions per summary. Off (with a warning) when the delivery engine cannot run the overwrite step.
 */
function createContextWriter(config: BridgeConfig, writer: BaseChatbotWriter, libraryLogger: Logger, logger: Logger): AgentContextWriter | undefined {
  const { llmBaseUrl, llmApiKey, llmModel, llmTimeoutMs, threshold } = config.summaries;
  if (llmBaseUrl === undefined) return undefined;
  if (!writer.supportsSummaries) {
    logger.warn("LLM_BASE_URL is set but this delivery engine does not run summaries yet; summaries are off", { store: config.redisUrl === undefined ? "memory" : "redis" });
    return undefined;
  }
  const maxAttempts = 3;
  const llm = openAiChatLlm({ baseUrl: llmBaseUrl, apiKey: llmApiKey, model: llmModel, timeoutMs: llmTimeoutMs, maxAttempts });
  // The summarizer's own bound covers the client's retries (each request bounded by LLM_TIMEOUT_MS).
  const summarizer = new SessionSummarizer({ llm, threshold, llmTimeoutMs: llmTimeoutMs * maxAttempts + 10_000, logger: libraryLogger });
  logger.info("summaries on", { llmBaseUrl, model: llmModel, threshold });
  return new AgentContextWriter({ writer, summarizer, closeTimeoutMs: Math.min(5_000, config.shutdownTimeoutMs) });
}

/** Debug: every delivered note and retry (ids, counts, durations, never action text); info: unlinks. */
function logWriterEvents(writer: BaseChatbotWriter, logger: Logger): void {
  writer.on("delivered", (e) =>
    logger.debug("note delivered", { sessionId: e.sessionId, conversationId: e.conversationId, partId: e.partId, kind: e.kind, actions: e.actionCount, attempt: e.attempt, durationMs: e.durationMs }),
  );
  writer.on("retrying", (e) => logger.debug("note retrying", { sessionId: e.sessionId, conversationId: e.conversationId, kind: e.kind, attempt: e.attempt, delayMs: e.delayMs, error: e.error instanceof Error ? e.error.message : String(e.error) }));
  writer.on("linked", (e) => logger.debug("writer linked session", { sessionId: e.sessionId, conversationId: e.conversationId, bufferedActions: e.bufferedActions }));
  writer.on("duplicates", (e) => logger.debug("duplicate actions dropped", { sessionId: e.sessionId, count: e.count }));
  writer.on("summary-delivered", (e) => logger.info("summary delivered", { sessionId: e.sessionId, conversationId: e.conversationId, partId: e.partId, redactions: e.redactions }));
  writer.on("summary-failed", (e) => logger.warn("summary not delivered; nothing redacted", { sessionId: e.sessionId, conversationId: e.conversationId, reason: e.reason, error: e.error }));
  writer.on("redacted", (e) => logger.debug("note redacted", { sessionId: e.sessionId, conversationId: e.conversationId, partId: e.partId, attempt: e.attempt }));
  writer.on("unlinked", (e) => logger.info("session unlinked: its conversation is gone", { sessionId: e.sessionId, conversationId: e.conversationId, reason: e.reason, error: e.error, bufferedActions: e.bufferedActions }));
}

/** In memory, dead letters end with the process: say so, with what is needed to recover them. */
async function logLostDeadLetters(writer: BaseChatbotWriter, logger: Logger): Promise<void> {
  const letters = await writer.deadLetters().catch(() => []);
  if (letters.length === 0) return;
  logger.warn("dead letters lost at exit (in-memory store; set REDIS_URL to keep them)", {
    count: letters.length,
    deadLetters: letters.map((l) => ({ id: l.id, sessionId: l.sessionId, conversationId: l.conversationId, reason: l.reason, actions: l.actions.map((a) => ({ timestamp_start: a.timestamp_start, description: a.description })) })),
  });
}

/** A configured Redis that does not answer at start is worth a warning (the bridge keeps trying). */
async function warnIfUnreachable(redis: RedisBackends, logger: Logger, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connection.sendCommand(["PING"]), timeout]);
  } catch (error) {
    logger.warn("REDIS_URL is configured but Redis is unreachable: requests answer 503 until it is back", { error: error instanceof Error ? error.message : String(error) });
  } finally {
    clearTimeout(timer);
  }
}

/** Retries work that failed for a passing reason (Redis unreachable, a lost race), then gives up loudly. */
async function withRetries(work: () => Promise<unknown>, logger: Logger, attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return;
    } catch (error) {
      const passing = error instanceof RedisUnavailableError || error instanceof ConcurrentUpdateError;
      if (!passing || attempt >= attempts) {
        logger.error("a streamed payload could not be recorded", { error: error instanceof Error ? error.message : String(error), attempts: attempt });
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
    }
  }
}

function warnAboutOpenDoors(config: BridgeConfig, logger: Logger): void {
  const { unsigned, allowUnsigned } = config.exposure;
  if (unsigned.length === 0) return;
  const routes = unsigned.map((u) => `${u.route} (${u.setting} unset)`);
  if (config.destination === "inbox" && config.exposure.loopback) {
    logger.warn("embedded inbox on loopback: these routes accept unsigned requests", { routes });
  } else if (allowUnsigned) {
    // Loud on purpose: at error level, so it shows whatever LOG_LEVEL says.
    logger.error("ALLOW_UNSIGNED=true: these routes accept UNSIGNED requests from anyone who can reach them; never run this in production", { routes });
  }
}
