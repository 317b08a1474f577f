import { afterEach, beforeEach, vi } from "vitest";

/**
 * Registers the writer tests' clock: fake timers with the wall clock at `startSeconds`, and after
 * each test the writer (from `current()`) closed with its timers run out, then real timers back.
 */
export function useFakeWriterClock(startSeconds: number, current: () => { close(): Promise<unknown> } | undefined): void {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(startSeconds * 1000);
  });

  afterEach(async () => {
    const closing = current()?.close();
    if (vi.isFakeTimers()) await vi.runAllTimersAsync();
    await closing;
    vi.useRealTimers();
  });
}
