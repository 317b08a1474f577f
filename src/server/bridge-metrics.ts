/**
 * The bridge's Prometheus metrics, through prom-client: its default process metrics (event-loop
 * lag, heap, GC, CPU, handles) beside the bridge's own. Counters kept elsewhere (the writer's,
 * the manager's and the stream's stats) are read when scraped, so they cannot drift.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ConnectorStreamStats } from "../connector/connector-stream.js";
import type { ManagerStats } from "../manager/autoplay-chatbot-manager.js";
import type { SummarizerStats } from "../summaries/session-summarizer.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { WriterStats } from "../writer/stats.js";
import type { ByteBudget } from "./byte-budget.js";

/** The bridge's metrics: request outcomes, the writer's, manager's and stream's counters, 429s and delivery latency. */
export interface BridgeMetrics {
  /** Serves `GET /metrics`: `await registry.metrics()`, content type `registry.contentType`. */
  readonly registry: Registry;
  /** HTTP requests by `route` and `status`. */
  readonly requests: LabeledCounter<"route" | "status">;
  /** New actions accepted from the connector (duplicates excluded). */
  readonly actionsReceived: Counter;
  /** Requests refused for a bad signature or token, by `route`. */
  readonly authRefused: LabeledCounter<"route">;
  /** Requests whose sender disconnected before its body arrived, by `route` (not errors). */
  readonly clientAborts: LabeledCounter<"route">;
}

/** A counter by label set, as the handlers count: `inc(1, { route, status })`. */
export interface LabeledCounter<L extends string> {
  inc(value: number, labels: Record<L, string>): void;
}

function labeled<L extends string>(counter: Counter<L>): LabeledCounter<L> {
  return { inc: (value, labels) => counter.inc(labels, value) };
}

/** What else the bridge can report besides the writer. */
export interface BridgeMetricsSources {
  /** Request body bytes buffered now. */
  inFlight?: ByteBudget;
  /** The manager's counters (`manager.stats()`). */
  manager?: { stats(): ManagerStats };
  /** The connector stream's counters (pull mode), read when scraped; undefined before the stream exists. */
  stream?: () => ConnectorStreamStats | undefined;
  /** The summarizer's counters (summaries on; null while off), read when scraped. */
  summarizer?: () => SummarizerStats | null;
  /** Commands sent to Redis so far (Redis mode), read when scraped. */
  redisCommands?: () => number;
  /** prom-client's default process metrics (`collectDefaultMetrics`). @default true */
  defaultMetrics?: boolean;
}

type Read = () => number;

/** The stream's cumulative counters, exposed as `bridge_stream_<snake_case>_total`. */
const STREAM_COUNTERS = ["connects", "reconnects", "frames", "heartbeats", "payloads", "malformed", "oversized", "unknownTypes", "ignored", "merged", "dropped", "droppedActions", "handlerErrors"] as const;
/** The stream's gauges, exposed as `bridge_stream_<snake_case>`. */
const STREAM_GAUGES = ["queued", "queuedActions", "connected", "consecutiveFailures"] as const;

/** Registers every metric on a fresh registry and subscribes to the writer's events. */
export function createBridgeMetrics(writer: BaseChatbotWriter, sources: BridgeMetricsSources = {}): BridgeMetrics {
  const registry = new Registry();
  if (sources.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new Counter({ name: "bridge_requests_total", help: "HTTP requests by route and status", labelNames: ["route", "status"] as const, registers });
  const authRefused = new Counter({ name: "bridge_auth_refused_total", help: "requests refused for a bad signature or token, by route", labelNames: ["route"] as const, registers });
  const clientAborts = new Counter({ name: "bridge_client_aborts_total", help: "requests whose client disconnected mid-upload, by route", labelNames: ["route"] as const, registers });
  const actionsReceived = new Counter({ name: "bridge_actions_received_total", help: "new actions accepted from the connector (duplicates excluded)", registers });

  writerMetrics(registry, () => writer.stats());
  if (sources.inFlight !== undefined) {
    const budget = sources.inFlight;
    gaugeFrom(registry, "bridge_request_bytes_in_flight", "request body bytes buffered now", () => budget.used);
  }
  if (sources.manager !== undefined) managerMetrics(registry, sources.manager);
  if (sources.stream !== undefined) streamMetrics(registry, sources.stream);
  if (sources.summarizer !== undefined) {
    const summarizer = sources.summarizer;
    counterFrom(registry, "bridge_llm_summaries_total", "summaries the LLM wrote", () => summarizer()?.summaries ?? 0);
    counterFrom(registry, "bridge_llm_failures_total", "LLM calls that failed or timed out (history kept)", () => summarizer()?.llmFailures ?? 0);
  }

  if (sources.redisCommands !== undefined) counterFrom(registry, "bridge_redis_commands_total", "commands sent to Redis (round trips)", sources.redisCommands);

  const rateLimited = new Counter({ name: "bridge_platform_429_total", help: "platform answers of 429 Too Many Requests", registers });
  const latency = new Histogram({ name: "bridge_delivery_seconds", help: "time of one platform call for a note", buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
  writer.on("retrying", (event) => {
    if ((event.error as { status?: unknown } | null)?.status === 429) rateLimited.inc();
  });
  writer.on("delivered", (event) => latency.observe(event.durationMs / 1000));
  return { registry, requests: labeled(requests), actionsReceived, authRefused: labeled(authRefused), clientAborts: labeled(clientAborts) };
}

function writerMetrics(registry: Registry, stats: () => WriterStats): void {
  const counters: Array<[string, string, (s: WriterStats) => number]> = [
    ["bridge_actions_duplicate_total", "actions dropped as already accepted (replays)", (s) => s.actionsDuplicate],
    ["bridge_actions_trimmed_total", "pre-link actions that fell out of the pre-link window", (s) => s.actionsTrimmed],
    ["bridge_actions_expired_total", "pre-link actions of sessions that expired unlinked", (s) => s.actionsExpired],
    ["bridge_actions_delivered_total", "actions in notes the platform confirmed", (s) => s.actionsDelivered],
    ["bridge_notes_posted_total", "notes the platform confirmed", (s) => s.notesPosted],
    ["bridge_notes_failed_total", "platform calls that failed", (s) => s.postFailures],
    ["bridge_notes_retried_total", "retries scheduled after a failure", (s) => s.retries],
    ["bridge_notes_dead_lettered_total", "notes moved to the dead letter", (s) => s.deadLettered],
    ["bridge_actions_dead_lettered_total", "actions inside the notes moved to the dead letter", (s) => s.deadLetteredActions],
    ["bridge_dead_letters_evicted_total", "dead letters pushed out of the bounded list by newer ones", (s) => s.deadLettersEvicted],
    ["bridge_notes_throttled_total", "posts held back by per-conversation spacing", (s) => s.throttled],
    ["bridge_sessions_unlinked_total", "sessions unlinked because their conversation was gone", (s) => s.unlinked],
    ["bridge_summaries_posted_total", "summary notes the platform confirmed", (s) => s.summariesPosted],
    ["bridge_summaries_failed_total", "summary notes dead-lettered (nothing redacted)", (s) => s.summariesFailed],
    ["bridge_redactions_total", "notes redacted after their summary was confirmed", (s) => s.redactions],
    ["bridge_redactions_retried_total", "failed redactions tried again", (s) => s.redactionRetries],
    ["bridge_redactions_failed_total", "redactions given up", (s) => s.redactionsFailed],
  ];
  for (const [name, help, read] of counters) counterFrom(registry, name, help, () => read(stats()));
  gaugeFrom(registry, "bridge_dead_letters", "dead letters held now", () => stats().deadLetters);
  gaugeFrom(registry, "bridge_notes_in_flight", "platform calls in flight now", () => stats().inFlight);
  gaugeFrom(registry, "bridge_coalescing_ratio", "actions delivered per note", () => {
    const s = stats();
    return s.actionsDelivered / Math.max(1, s.notesPosted);
  });
  gaugeFrom(registry, "bridge_sessions", "sessions tracked by this process", () => stats().sessions);
}

function managerMetrics(registry: Registry, manager: { stats(): ManagerStats }): void {
  const stats = () => manager.stats();
  gaugeFrom(registry, "bridge_manager_busy_sessions", "sessions with a manager operation queued or running now", () => stats().busySessions);
  counterFrom(registry, "bridge_manager_empty_batches_total", "batches without actions (they change nothing)", () => stats().emptyBatches);
  counterFrom(registry, "bridge_manager_unlinks_applied_total", "gone conversations applied to the session state and link store", () => stats().unlinksApplied);
  counterFrom(registry, "bridge_manager_unlinks_failed_total", "unlinks that failed on a store error (kept for the session's next call)", () => stats().unlinksFailed);
  gaugeFrom(registry, "bridge_manager_unlinks_pending", "failed unlinks waiting for their session's next call", () => stats().unlinksPending);
  // Only a store that keeps counters (the in-memory one) reports these; absent stats read as 0.
  gaugeFrom(registry, "bridge_session_store_sessions", "sessions held by the in-memory session store now", () => stats().sessionStore?.sessions ?? 0);
  counterFrom(registry, "bridge_session_store_evicted_total", "sessions evicted by the in-memory store's count cap", () => stats().sessionStore?.evicted ?? 0);
  counterFrom(registry, "bridge_session_store_expired_total", "sessions dropped by the in-memory store when their TTL ran out", () => stats().sessionStore?.expired ?? 0);
}

function streamMetrics(registry: Registry, stream: () => ConnectorStreamStats | undefined): void {
  const field = (key: (typeof STREAM_COUNTERS)[number] | (typeof STREAM_GAUGES)[number]) => () => Number(stream()?.[key] ?? 0);
  for (const key of STREAM_COUNTERS) counterFrom(registry, `bridge_stream_${snake(key)}_total`, `connector stream: ${key}`, field(key));
  for (const key of STREAM_GAUGES) gaugeFrom(registry, `bridge_stream_${snake(key)}`, `connector stream: ${key} (now)`, field(key));
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A counter kept elsewhere (monotonic), read when scraped. */
function counterFrom(registry: Registry, name: string, help: string, read: Read): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(finite(read()));
    },
  });
}

/** A gauge read when scraped. */
function gaugeFrom(registry: Registry, name: string, help: string, read: Read): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(finite(read()));
    },
  });
}

function finite(value: number): number {
  return Number.isFinite(value) && value >= 0 ? value : 0;
}
