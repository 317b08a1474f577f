/** Shared steps of the scenarios: start things with cleanup, send numbered actions, settle. */
import { deleteByPrefix, connectTestRedis, redisUrl, uniquePrefix } from "../../support/redis.js";
import type { FakePlatform } from "../../support/fake-platforms.js";
import { startBridge, type Bridge } from "../harness/bridge.js";
import type { Ledger } from "../harness/ledger.js";
import type { ScenarioContext } from "../harness/row.js";
import { actionsBody, sendEvents, sleep, waitUntil, type Sent, type SendOptions } from "../harness/send.js";

export async function platform<T extends FakePlatform>(ctx: ScenarioContext, started: Promise<T>): Promise<T> {
  const fake = await started;
  ctx.defer(() => fake.close());
  return fake;
}

export async function bridge(ctx: ScenarioContext, env: Record<string, string>): Promise<Bridge> {
  const b = await startBridge(env);
  ctx.defer(() => b.kill());
  return b;
}

/** A key prefix on the shared Redis (127.0.0.1:6379) for this scenario, deleted at the end. */
export async function sharedRedisPrefix(ctx: ScenarioContext, label: string): Promise<{ url: string; prefix: string }> {
  const prefix = uniquePrefix(`faults-${label}`);
  const redis = await connectTestRedis();
  ctx.defer(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.close();
  });
  return { url: redisUrl(), prefix };
}

/** Sends one batch and records it in the ledger. */
export async function send(ledger: Ledger, bridgeUrl: string, session: string, actions: ReadonlyArray<{ description?: unknown }>, options?: SendOptions, extra?: Record<string, unknown>): Promise<Sent> {
  const sent = await sendEvents(bridgeUrl, actionsBody(session, actions, extra), options);
  ledger.record(actions, sent);
  return sent;
}

/** Sends actions `from..to` of `session`, one batch each, `gapMs` apart; returns the statuses. */
export async function sendEach(ledger: Ledger, bridgeUrl: string | ((n: number) => string), session: string, from: number, to: number, gapMs: number, ts?: (n: number) => number): Promise<number[]> {
  const statuses: number[] = [];
  for (let n = from; n <= to; n++) {
    const url = typeof bridgeUrl === "string" ? bridgeUrl : bridgeUrl(n);
    statuses.push((await send(ledger, url, session, [ledger.action(session, n, ts?.(n))])).status);
    if (gapMs > 0 && n < to) await sleep(gapMs);
  }
  return statuses;
}

/** Waits until every accepted action shows up on the platform(s), then `quietMs` more for late copies. */
export async function settle(ledger: Ledger, fakes: FakePlatform | FakePlatform[], timeoutMs: number, quietMs = 800): Promise<boolean> {
  const done = await waitUntil(() => ledger.tally(fakes).delivered >= ledger.acceptedCount, timeoutMs, 100);
  await sleep(quietMs);
  return done;
}

/** Count of HTTP statuses, e.g. "202×10, 503×2". */
export function statusSummary(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s === 0 ? "no answer" : s}×${n}`).join(", ");
}

/** Whether the sequence of action numbers is strictly increasing. */
export function increasing(tokens: string[]): boolean {
  const numbers = tokens.map((t) => Number(t.slice(-5)));
  return numbers.every((n, i) => i === 0 || n > (numbers[i - 1] ?? -1));
}
