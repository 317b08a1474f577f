import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectorStream } from "../connector/index.js";
import { ConcurrentUpdateError } from "../errors.js";
import { HttpBridgeWriter, IntercomWriter, ZendeskWriter } from "../integrations/index.js";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { RedisUnavailableError } from "../redis/commands.js";
import { redisBackends, type RedisBackends } from "../redis/redis-backends.js";
import { createBridgeApp } from "../server/app.js";
import { createBridgeMetrics } from "../server/bridge-metrics.js";
import { InboxWriter } from "../server/inbox-writer.js";
import { createJsonLogger, type Logger } from "../server/logger.js";
import { MemoryReplayGuard, RedisReplayGuard } from "../server/replay-guard.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../writer/options.js";
import { secretsOf, type BridgeConfig } from "./config.js";

/** A running bridge. */
export interface RunningBridge {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly server: Server;
  readonly manager: AutoplayChatbotManager;
  /** Stops intake, drains pending notes (bounded by SHUTDOWN_TIMEOUT_MS), closes connections. Safe twice. */
  close(): Promise<void>;
}

/** Builds the writer of the configured destination. */
function createWriter(config: BridgeConfig, common: ChatbotWriterOptions): { writer: BaseChatbotWriter; inbox?: () => unknown } {
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
      const writer = new InboxWriter(common);
      return { writer, inbox: () => writer.snapshot() };
    }
  }
}

/** Starts the bridge service described by `config`. */
export async function startBridge(config: BridgeConfig, options: { logger?: Logger } = {}): Promise<RunningBridge> {
  const logger = options.logger ?? createJsonLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const redis: RedisBackends | undefined = config.redisUrl === undefined ? undefined : redisBackends({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix });
  const { writer, inbox } = createWriter(config, {
    productId: config.productId,
    postLinkDebounceMs: config.postLinkDebounceMs,
    postTimeoutMs: config.postTimeoutMs,
    closeTimeoutMs: config.shutdownTimeoutMs,
    logger,
    delivery: redis?.delivery,
  });
  const manager = new AutoplayChatbotManager({ writer, sessionStore: redis?.sessionStore, linkStore: redis?.linkStore });
  const metrics = createBridgeMetrics(writer);
  let streamFailed = false;
  const app = createBridgeApp({
    manager,
    logger,
    metrics,
    replay: redis === undefined ? new MemoryReplayGuard() : new RedisReplayGuard(redis.connection, `${config.redisKeyPrefix}seen:`),
    ready: async () => !streamFailed && (redis === undefined || (await redis.connection.sendCommand(["PING"])) === "PONG"),
    inbox,
    maxBodyBytes: config.maxBodyBytes,
    connectorSecret: config.connectorSecret,
    intercom: { clientSecret: config.intercom.clientSecret, sessionAttribute: config.intercom.sessionAttribute },
    zendeskWebhookSecret: config.zendesk.webhookSecret,
    linkToken: config.linkToken,
  });
  // A sender may not hold a connection open forever with a slow or stalled body.
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;

  const stream = config.connectorStreamUrl === undefined
    ? undefined
    : new ConnectorStream({
        url: config.connectorStreamUrl,
        token: config.connectorToken as string,
        logger,
        onPayload: async (payload) => {
          // The connector has no replay: a payload that cannot be recorded now is retried here.
          if (payload.type === "actions") await withRetries(() => manager.onActions(payload), logger);
        },
      });
  if (stream !== undefined) {
    stream.start();
    stream.done.catch((error: unknown) => {
      streamFailed = true;
      logger.error("connector stream stopped for good", { error: error instanceof Error ? error.message : String(error) });
    });
  }
  warnAboutOpenDoors(config, logger);
  logger.info("bridge listening", { url, destination: config.destination, store: redis === undefined ? "memory" : "redis", pull: stream !== undefined });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info("bridge shutting down: draining pending notes");
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await stream?.stop();
      await manager.close();
      // Requests still open now (a stalled upload) would hold server.close() forever.
      server.closeAllConnections();
      await stopped;
      await redis?.close();
      logger.info("bridge stopped", { stats: writer.stats() });
    })();
    return closing;
  };
  return { url, server, manager, close };
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
  if (config.connectorSecret === undefined) logger.warn("CONNECTOR_SECRET is unset: POST /events accepts unsigned payloads");
  if (config.intercom.clientSecret === undefined) logger.warn("INTERCOM_CLIENT_SECRET is unset: Intercom webhooks are not verified");
  if (config.zendesk.webhookSecret === undefined) logger.warn("ZENDESK_WEBHOOK_SECRET is unset: Zendesk webhooks are not verified");
}
