import { describe, expect, it, vi } from "vitest";
import { slim } from "../writer/test-support/actions.js";
import { CONFIRM } from "./delivery-scripts.js";
import { SUMMARIZE } from "./summary-scripts.js";
import { FaultyClient, redisTestBed, sleep } from "./test-support/harness.js";

// Issue 9 on Redis: the summary steps whose reply can be lost answer as their first run did.
const bed = redisTestBed("summaries");
const T0 = Math.floor(Date.now() / 1000) - 30;

async function twoNotes(client: FaultyClient) {
  const w = bed.make({}, { client });
  const redacted: string[] = [];
  w.on("redacted", (e) => redacted.push(e.partId));
  await w.onSessionLinked("s", "c");
  for (const i of [0, 1]) {
    await w.writeActions(null, "s", [slim(`a${i}`, T0 + i, i)]);
    await vi.waitFor(() => expect(w.delivered).toHaveLength(i + 1), { timeout: 4000 });
  }
  return { w, redacted };
}

describe("summaries on Redis with lost replies", () => {
  it("a lost SUMMARIZE reply queues one summary, whose snapshot is redacted once", async () => {
    const client = new FaultyClient(bed.redis);
    const { w, redacted } = await twoNotes(client);
    client.loseReplyOf(SUMMARIZE);
    expect(await w.postSummary("s", "both", { latestActions: 2 })).toMatchObject({ status: "queued", snapshot: 2 });
    expect(client.runs(SUMMARIZE)).toBe(2);
    await vi.waitFor(() => expect(redacted).toEqual(["part-1", "part-2"]), { timeout: 4000 });
    await sleep(200);
    expect(w.delivered.filter((c) => c.body.endsWith("\n\nboth"))).toHaveLength(1);
    expect(redacted).toHaveLength(2);
  });

  it("a lost CONFIRM reply of the summary queues its redactions once and reports it once", async () => {
    const client = new FaultyClient(bed.redis);
    const { w, redacted } = await twoNotes(client);
    const delivered: number[] = [];
    w.on("summary-delivered", (e) => delivered.push(e.redactions));
    client.loseReplyOf(CONFIRM);
    await w.postSummary("s", "both", { latestActions: 2 });
    await vi.waitFor(() => expect(redacted).toEqual(["part-1", "part-2"]), { timeout: 4000 });
    await sleep(200);
    expect(delivered).toEqual([2]);
    expect(redacted).toHaveLength(2);
    expect(w.stats()).toMatchObject({ summariesPosted: 1, redactions: 2 });
  });
});
