/**
 * The bridge service (`autoplay-chatbot-bridge/server`): the HTTP app and server, metrics
 * (prom-client), logs, replay guards, signatures, the embedded inbox writer, the settings and
 * `startBridge`. Kept out of the package root so that a library user importing
 * `BaseChatbotWriter` loads none of the service's dependencies.
 */
export { createBridgeApp, type BridgeAppOptions, type WebhookKind } from "./app.js";
export { createBridgeServer, type ServerLimits } from "./server.js";
export { ByteBudget } from "./byte-budget.js";
export { createBridgeMetrics, type BridgeMetrics, type BridgeMetricsSources, type LabeledCounter } from "./bridge-metrics.js";
export { HttpError } from "./http.js";
export { InboxWriter, type InboxNote } from "./inbox-writer.js";
export { createJsonLogger, redact, type Logger, type LogLevel } from "./logger.js";
export { openApiDocument } from "./openapi.js";
export { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard, type ReplayState } from "./replay-guard.js";
export { sign, verifyConnectorSignature, verifyIntercomSignature, verifyZendeskSignature } from "./signatures.js";
export { ListenError, startBridge, type RunningBridge } from "../cli/bridge.js";
export { ConfigError, flagOf, loadConfig, SETTINGS, type BridgeConfig, type ConfigProblem, type Destination, type Exposure, type SettingName } from "../cli/config.js";
