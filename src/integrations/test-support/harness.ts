/** Helpers shared by the platform writers' tests (real timers, fake platforms on 127.0.0.1). */
import { afterEach } from "vitest";
import type { NoteAction } from "../../payloads/types.js";
import { slim } from "../../writer/test-support/actions.js";

/** Writer options that keep tests fast and quiet: short debounce and backoff, no jitter, no log. */
export const fastWriter = {
  productId: "test",
  postLinkDebounceMs: 20,
  postTimeoutMs: 2_000,
  requestTimeoutMs: 3_000,
  closeTimeoutMs: 2_000,
  retry: { baseDelayMs: 30, maxDelayMs: 200, jitter: 0, maxAttempts: 5 },
  logger: {},
} as const;

/** Registers `close()` calls run after each test, newest first (writers before their servers). */
export function useCleanup(): <T extends { close(): Promise<unknown> }>(closable: T) => T {
  const pending: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const closable of pending.splice(0).reverse()) await closable.close();
  });
  return (closable) => {
    pending.push(closable);
    return closable;
  };
}

/** Actions stamped now, one per description. */
export function actions(...descriptions: string[]): NoteAction[] {
  const now = Date.now() / 1000;
  return descriptions.map((d, i) => slim(d, now + i / 1000, i));
}

/** The action descriptions of a plain-text note body, in note order. */
export function actionLines(body: string): string[] {
  return body
    .split("\n")
    .filter((line) => /^\[\d+\] /.test(line))
    .map((line) => line.replace(/^\[\d+\] /, ""));
}

/** Conversation ids that must never reach a URL path (#8): each escapes or changes the path. */
export const PATH_ESCAPING_IDS = [".", "..", "a/b", "%2e%2e", "a?b", "a#b", "a\\b"] as const;

/** Polls `condition` every 5 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Resolves after `ms` (real timers). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
