import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import { MetricsRegistry, type Counter } from "./metrics.js";

/** The bridge's metrics: request outcomes, writer counters, 429s and delivery latency. */
export interface BridgeMetrics {
  readonly registry: MetricsRegistry;
  readonly requests: Counter;
  readonly actionsReceived: Counter;
}

/** Registers every metric and subscribes to the writer's events. */
export function createBridgeMetrics(writer: BaseChatbotWriter): BridgeMetrics {
  const registry = new MetricsRegistry();
  const stats = () => writer.stats();
  const requests = registry.counter("bridge_requests_total", "HTTP requests by route and status");
  const actionsReceived = registry.counter("bridge_actions_received_total", "actions accepted from the connector");
  registry.counterFrom("bridge_notes_posted_total", "notes the platform confirmed", () => stats().notesPosted);
  registry.counterFrom("bridge_notes_failed_total", "platform calls that failed", () => stats().postFailures);
  registry.counterFrom("bridge_notes_retried_total", "retries scheduled after a failure", () => stats().retries);
  registry.counterFrom("bridge_notes_dead_lettered_total", "notes moved to the dead letter", () => stats().deadLettered);
  registry.counterFrom("bridge_notes_throttled_total", "posts held back by per-conversation spacing", () => stats().throttled);
  registry.gauge("bridge_coalescing_ratio", "actions delivered per note", () => stats().actionsDelivered / Math.max(1, stats().notesPosted));
  registry.gauge("bridge_sessions", "sessions tracked by this process", () => stats().sessions);
  const rateLimited = registry.counter("bridge_platform_429_total", "platform answers of 429 Too Many Requests");
  const latency = registry.histogram("bridge_delivery_seconds", "time of one platform call for a note", [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  writer.on("retrying", (event) => {
    if ((event.error as { status?: unknown } | null)?.status === 429) rateLimited.inc();
  });
  writer.on("delivered", (event) => latency.observe(event.durationMs / 1000));
  return { registry, requests, actionsReceived };
}
