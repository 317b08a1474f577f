/** A connector stream wired to a fake connector, for the stream tests. */
import { startFakeConnector } from "../../../test/support/fake-sse.js";
import type { FakeConnector } from "../../../test/support/fake-sse.js";
import type { Payload } from "../../payloads/types.js";
import { ConnectorStream } from "../connector-stream.js";
import type { ConnectorStreamOptions } from "../options.js";

export const TOKEN = "test-token-123";

export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

export interface Harness {
  fake: FakeConnector;
  stream: ConnectorStream;
  /** Payloads handed to onPayload, in call order. */
  received: Payload[];
  logs: LogLine[];
}

const running: Harness[] = [];

/**
 * A fake connector and a stream (not started) on it, with fast backoffs. `options` (or a function
 * of the fake returning them) override the stream's; `onPayload` defaults to recording into `received`.
 */
export async function startHarness(
  options: Partial<ConnectorStreamOptions> | ((fake: FakeConnector) => Partial<ConnectorStreamOptions>) = {},
): Promise<Harness> {
  const fake = await startFakeConnector({ token: TOKEN });
  const overrides = typeof options === "function" ? options(fake) : options;
  const received: Payload[] = [];
  const logs: LogLine[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => logs.push({ level, message, fields });
  const stream = new ConnectorStream({
    url: fake.url,
    token: TOKEN,
    onPayload: async (payload) => {
      received.push(payload);
    },
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    silenceTimeoutMs: 5_000,
    stopTimeoutMs: 500,
    logger: { info: record("info"), warn: record("warn"), error: record("error") },
    ...overrides,
  });
  const harness = { fake, stream, received, logs };
  running.push(harness);
  return harness;
}

/** Stops every harness started so far (for afterEach). */
export async function stopHarnesses(): Promise<void> {
  for (const h of running.splice(0)) {
    await h.stream.stop();
    await h.fake.close();
  }
}

/** An actions payload as the connector sends it: one action per description. */
export function actionsFrame(session: string | null, ...descriptions: string[]): Record<string, unknown> {
  return {
    type: "actions",
    product_id: "prod-test",
    session_id: session,
    actions: descriptions.map((description, index) => ({ index, type: "click", description, timestamp_start: 1 })),
    count: descriptions.length,
    forwarded_at: 1,
  };
}

/** The action descriptions of payloads, in order. */
export function descriptions(payloads: readonly Payload[]): string[] {
  return payloads.flatMap((p) => (p.type === "actions" ? p.actions.map((a) => a.description) : []));
}

/** Polls `predicate` every 5 ms. @throws after `timeoutMs` */
export async function waitUntil(predicate: () => boolean, timeoutMs = 2_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
