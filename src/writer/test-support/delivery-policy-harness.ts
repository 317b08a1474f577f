import { afterEach, beforeEach, expect, vi } from "vitest";
import { createTestWriter, type RecordingChatbotWriter } from "../../testing/index.js";
import type { DeliveryEngineFactory } from "../delivery-engine.js";
import type { WriterEvents } from "../events.js";
import type { ChatbotWriterOptions } from "../options.js";

/** One test's backend: a fresh, empty place for the engine's state (e.g. a unique Redis key prefix). */
export interface DeliveryPolicyBackend {
  /** An engine factory on this test's backend; every writer of the test is built from it. */
  delivery(): DeliveryEngineFactory;
  /** How many entries the backend holds for this test (Redis: keys under the prefix); omit when not inspectable. */
  footprint?(): Promise<number>;
  /** Removes what the test left behind. */
  cleanup(): Promise<void>;
}

/** What may differ between engines: only durability and sharing (docs/delivery-policy.md). */
export interface DeliveryPolicyTraits {
  /** Writers built on one backend share sessions, dedupe memory and dead letters (Redis). */
  shared: boolean;
  /**
   * Undelivered work outlives the process: at close it is left for another instance (counted in
   * `leftInRedis`) instead of being dead-lettered (memory).
   */
  durable: boolean;
}

/** Builds a fresh backend for one test. */
export type DeliveryPolicyFactory = () => Promise<DeliveryPolicyBackend>;

/** What each topic file's tests get. */
export interface PolicyContext {
  readonly traits: DeliveryPolicyTraits;
  /** The current test's backend. */
  backend(): DeliveryPolicyBackend;
  /** A recording writer on the current test's backend, with the suite's short real-time settings; closed after the test. */
  writer(options?: Partial<ChatbotWriterOptions>): RecordingChatbotWriter;
}

/**
 * Short real-time settings: the Redis engine's timing is real, so the suite uses real timers with
 * small delays and asserts order, counts and bodies rather than elapsed times.
 */
export const POLICY_DEFAULTS: Partial<ChatbotWriterOptions> = {
  postLinkDebounceMs: 40,
  maxWaitMs: 300,
  closeTimeoutMs: 2_000,
  retry: { baseDelayMs: 30, jitter: 0 },
};

/** Registers the per-test backend and writer bookkeeping; call inside a `describe`. */
export function usePolicyContext(factory: DeliveryPolicyFactory, traits: DeliveryPolicyTraits): PolicyContext {
  let backend: DeliveryPolicyBackend | undefined;
  const writers: RecordingChatbotWriter[] = [];
  beforeEach(async () => {
    backend = await factory();
  });
  afterEach(async () => {
    // Bounded: an engine that breaks its close bound must fail its own test, not hang the rest.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, 6_000)));
    await Promise.race([Promise.allSettled(writers.splice(0).map((w) => w.close())), bound]);
    clearTimeout(timer);
    await backend?.cleanup();
    backend = undefined;
  });
  return {
    traits,
    backend: () => {
      if (backend === undefined) throw new Error("no backend outside a test");
      return backend;
    },
    writer: (options = {}) => {
      if (backend === undefined) throw new Error("no backend outside a test");
      const w = createTestWriter({
        ...POLICY_DEFAULTS,
        ...options,
        retry: { ...POLICY_DEFAULTS.retry, ...options.retry },
        delivery: backend.delivery(),
      });
      writers.push(w);
      return w;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `vi.waitFor` with a generous timeout (the machine is loaded). */
export function eventually<T>(check: () => T | Promise<T>, timeout = 5_000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 10 });
}

/** Now in Unix seconds, a minute back so stamps are never "in the future" and always in the default window. */
export function recentSeconds(): number {
  return Math.floor(Date.now() / 1000) - 60;
}

/** SPEC §3's header for `sessionId` at `timestampSeconds`. */
export function header(sessionId: string, timestampSeconds: number): string {
  const stamp = new Date(Math.floor(timestampSeconds) * 1000).toISOString().slice(0, 19).replace("T", " ");
  return `session_id: ${sessionId}\ntimestamp: ${stamp} UTC\n\n`;
}

/** The action texts of one note body, without numbers and blank bin separators. */
export function actionLines(body: string | undefined): string[] {
  if (body === undefined) return [];
  return body
    .split("\n")
    .slice(3)
    .filter((l) => l !== "")
    .map((l) => l.replace(/^\[\d+\] /, ""));
}

/** Every action text of every delivered note of the writers, in delivery order per writer. */
export function deliveredLines(...writers: RecordingChatbotWriter[]): string[] {
  return writers.flatMap((w) => w.notes.flatMap((n) => actionLines(n.body)));
}

/** Collects a writer event's payloads. */
export function collect<E extends keyof WriterEvents>(w: RecordingChatbotWriter, event: E): Array<WriterEvents[E]> {
  const seen: Array<WriterEvents[E]> = [];
  w.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Waits until the writer has made `count` calls. */
export async function callsMade(w: RecordingChatbotWriter, count: number, timeout?: number): Promise<void> {
  await eventually(() => expect(w.calls.length).toBeGreaterThanOrEqual(count), timeout);
}
