/** `GET /metrics` through prom-client: default process metrics beside the bridge's own, read when scraped. */
import { describe, expect, it } from "vitest";
import type { ConnectorStreamStats } from "../connector/connector-stream.js";
import { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import { createTestWriter } from "../testing/index.js";
import { createBridgeMetrics } from "./bridge-metrics.js";
import { ByteBudget } from "./byte-budget.js";

const T0 = Math.floor(Date.now() / 1000);
const batch = (sessionId: string, descriptions: string[], first = 0) => ({
  type: "actions",
  product_id: "p",
  session_id: sessionId,
  actions: descriptions.map((description, i) => ({ index: first + i, type: "click", description, timestamp_start: T0 + first + i })),
});

function streamStats(overrides: Partial<ConnectorStreamStats> = {}): ConnectorStreamStats {
  return { connects: 2, reconnects: 1, frames: 9, heartbeats: 4, payloads: 5, malformed: 0, oversized: 0, unknownTypes: 1, ignored: 1, merged: 0, dropped: 0, droppedActions: 0, handlerErrors: 0, queued: 3, queuedActions: 7, connected: true, consecutiveFailures: 0, ...overrides };
}

describe("createBridgeMetrics", () => {
  it("serves prom-client's default process metrics in the Prometheus text format", async () => {
    const writer = createTestWriter();
    const { registry } = createBridgeMetrics(writer);
    const text = await registry.metrics();
    for (const name of ["nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes", "nodejs_gc_duration_seconds", "process_cpu_user_seconds_total", "process_resident_memory_bytes"]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
    expect(registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    await writer.close();
  });

  it("reads the writer's, the manager's and the stream's counters when scraped, under their names", async () => {
    const writer = createTestWriter({ postLinkDebounceMs: 5 });
    const manager = new AutoplayChatbotManager({ writer });
    const stream: { stats?: ConnectorStreamStats } = {};
    const metrics = createBridgeMetrics(writer, { inFlight: new ByteBudget(1024), manager, stream: () => stream.stats, defaultMetrics: false });
    await manager.onActions(batch("s1", ["a", "b"]));
    await manager.onActions(batch("s1", ["b", "c"], 1));
    await manager.onActions(batch("s2", []));
    await manager.onChatbotEvent("s1", "c1");
    await writer.onIdle();
    metrics.requests.inc(1, { route: "/events", status: "202" });
    metrics.authRefused.inc(1, { route: "/links" });
    const before = await metrics.registry.metrics();
    expect(before).toMatch(/^bridge_actions_duplicate_total 1$/m);
    expect(before).toMatch(/^bridge_notes_posted_total 1$/m);
    expect(before).toMatch(/^bridge_actions_delivered_total 3$/m);
    expect(before).toMatch(/^bridge_coalescing_ratio 3$/m);
    expect(before).toMatch(/^bridge_manager_empty_batches_total 1$/m);
    expect(before).toMatch(/^bridge_session_store_sessions 1$/m);
    expect(before).toMatch(/^bridge_request_bytes_in_flight 0$/m);
    expect(before).toMatch(/^bridge_requests_total\{route="\/events",status="202"\} 1$/m);
    expect(before).toMatch(/^bridge_auth_refused_total\{route="\/links"\} 1$/m);
    // Before the stream exists, its metrics read 0; then they follow its stats.
    expect(before).toMatch(/^bridge_stream_connects_total 0$/m);
    stream.stats = streamStats();
    const after = await metrics.registry.metrics();
    expect(after).toMatch(/^# TYPE bridge_stream_connects_total counter$/m);
    expect(after).toMatch(/^bridge_stream_connects_total 2$/m);
    expect(after).toMatch(/^bridge_stream_unknown_types_total 1$/m);
    expect(after).toMatch(/^# TYPE bridge_stream_queued_actions gauge$/m);
    expect(after).toMatch(/^bridge_stream_queued_actions 7$/m);
    expect(after).toMatch(/^bridge_stream_connected 1$/m);
    await manager.close();
  });

  it("counts 429s and times deliveries in a histogram", async () => {
    const writer = createTestWriter({ postLinkDebounceMs: 5, retry: { baseDelayMs: 1, maxDelayMs: 5, jitter: 0 } });
    const manager = new AutoplayChatbotManager({ writer });
    const metrics = createBridgeMetrics(writer, { defaultMetrics: false });
    writer.rateLimitNext(5);
    await manager.onChatbotEvent("s1", "c1");
    await manager.onActions(batch("s1", ["a"]));
    await writer.onIdle();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^bridge_platform_429_total 1$/m);
    expect(text).toMatch(/^bridge_delivery_seconds_count 1$/m);
    expect(text).toMatch(/^bridge_delivery_seconds_bucket\{le="\+Inf"\} 1$/m);
    // No stream configured: no stream metrics at all.
    expect(text).not.toContain("bridge_stream_");
    await manager.close();
  });
});
