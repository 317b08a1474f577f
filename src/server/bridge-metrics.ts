import type { SummarizerStats } from "../summaries/session-summarizer.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { ByteBudget } from "./byte-budget.js";
import { MetricsRegistry, type Counter } from "./metrics.js";

/** The bridge's metrics: request outcomes, writer counters, 429s and delivery latency. */
export interface BridgeMetrics {
  readonly registry: MetricsRegistry;
  readonly requests: Counter;
  readonly actionsReceived: Counter;
  /** Requests refused for a bad signature or token, by route. */
  readonly authRefused: Counter;
  /** Requests whose sender disconnected before its body arrived, by route (not errors). */
  readonly clientAborts: Counter;
}

/** What else the bridge can report besides the writer. */
export interface BridgeMetricsSources {
  /** Request body bytes buffered now. */
  inFlight?: ByteBudget;
  /** The connector stream's counters (pull mode), read when scraped. */
  stream?: () => object | undefined;
  /** The summarizer's counters (summaries on), read when scraped. */
  summarizer?: () => SummarizerStats | null;
}

const STREAM_GAUGES = new Set(["queued", "queuedActions", "connected", "consecutiveFailures"]);

/** Registers every metric and subscribes to the writer's events. */
export function createBridgeMetrics(writer: BaseChatbotWriter, sources: BridgeMetricsSources = {}): BridgeMetrics {
  const registry = new MetricsRegistry();
  const stats = () => writer.stats();
  const requests = registry.counter("bridge_requests_total", "HTTP requests by route and status");
  const authRefused = registry.counter("bridge_auth_refused_total", "requests refused for a bad signature or token, by route");
  const clientAborts = registry.counter("bridge_client_aborts_total", "requests whose client disconnected mid-upload, by route");
  const actionsReceived = registry.counter("bridge_actions_received_total", "new actions accepted from the connector (duplicates excluded)");
  registry.counterFrom("bridge_actions_duplicate_total", "actions dropped as already accepted (replays)", () => stats().actionsDuplicate);
  registry.counterFrom("bridge_actions_trimmed_total", "pre-link actions that fell out of the pre-link window", () => stats().actionsTrimmed);
  registry.counterFrom("bridge_actions_expired_total", "pre-link actions of sessions that expired unlinked", () => stats().actionsExpired);
  registry.counterFrom("bridge_notes_posted_total", "notes the platform confirmed", () => stats().notesPosted);
  registry.counterFrom("bridge_notes_failed_total", "platform calls that failed", () => stats().postFailures);
  registry.counterFrom("bridge_notes_retried_total", "retries scheduled after a failure", () => stats().retries);
  registry.counterFrom("bridge_notes_dead_lettered_total", "notes moved to the dead letter", () => stats().deadLettered);
  registry.counterFrom("bridge_dead_letters_evicted_total", "dead letters pushed out of the bounded list by newer ones", () => stats().deadLettersEvicted);
  registry.counterFrom("bridge_notes_throttled_total", "posts held back by per-conversation spacing", () => stats().throttled);
  registry.counterFrom("bridge_sessions_unlinked_total", "sessions unlinked because their conversation was gone", () => stats().unlinked);
  registry.gauge("bridge_dead_letters", "dead letters held now", () => stats().deadLetters);
  registry.counterFrom("bridge_summaries_posted_total", "summary notes the platform confirmed", () => stats().summariesPosted);
  registry.counterFrom("bridge_summaries_failed_total", "summary notes dead-lettered (nothing redacted)", () => stats().summariesFailed);
  registry.counterFrom("bridge_redactions_total", "notes redacted after their summary was confirmed", () => stats().redactions);
  registry.counterFrom("bridge_redactions_retried_total", "failed redactions tried again", () => stats().redactionRetries);
  registry.counterFrom("bridge_redactions_failed_total", "redactions given up", () => stats().redactionsFailed);
  const summarizer = sources.summarizer;
  if (summarizer !== undefined) {
    registry.counterFrom("bridge_llm_summaries_total", "summaries the LLM wrote", () => summarizer()?.summaries ?? 0);
    registry.counterFrom("bridge_llm_failures_total", "LLM calls that failed or timed out (history kept)", () => summarizer()?.llmFailures ?? 0);
  }
  registry.gauge("bridge_coalescing_ratio", "actions delivered per note", () => stats().actionsDelivered / Math.max(1, stats().notesPosted));
  registry.gauge("bridge_sessions", "sessions tracked by this process", () => stats().sessions);
  const budget = sources.inFlight;
  if (budget !== undefined) registry.gauge("bridge_request_bytes_in_flight", "request body bytes buffered now", () => budget.used);
  const rateLimited = registry.counter("bridge_platform_429_total", "platform answers of 429 Too Many Requests");
  const latency = registry.histogram("bridge_delivery_seconds", "time of one platform call for a note", [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  const stream = sources.stream;
  if (stream !== undefined) registry.custom(() => renderStream(stream()));
  writer.on("retrying", (event) => {
    if ((event.error as { status?: unknown } | null)?.status === 429) rateLimited.inc();
  });
  writer.on("delivered", (event) => latency.observe(event.durationMs / 1000));
  return { registry, requests, actionsReceived, authRefused, clientAborts };
}

/**
 * The stream's counters as `bridge_stream_<name>_total` (gauges for `queued`, `queuedActions`, `connected`, `consecutiveFailures`),
 * whatever numeric fields its `stats()` has: the stream owns its counters.
 */
function renderStream(stats: object | undefined): string {
  if (stats === undefined) return "";
  const lines: string[] = [];
  for (const [key, value] of Object.entries(stats) as Array<[string, unknown]>) {
    const n = typeof value === "boolean" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isFinite(n) || key === "fatalStatus") continue;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, "_");
    const gauge = STREAM_GAUGES.has(key);
    const name = gauge ? `bridge_stream_${snake}` : `bridge_stream_${snake}_total`;
    lines.push(`# HELP ${name} connector stream: ${key}`, `# TYPE ${name} ${gauge ? "gauge" : "counter"}`, `${name} ${n}`);
  }
  return lines.join("\n");
}
