import { describe, expect, it } from "vitest";
import { PermanentDeliveryError } from "../../errors.js";
import type { PostBehaviour, RecordedCall } from "../../testing/index.js";
import { slim } from "./actions.js";
import { describeBufferingAndLinks } from "./delivery-policy-buffering.js";
import { describeFailures } from "./delivery-policy-failures.js";
import {
  deliveredLines, eventually, recentSeconds, sleep, usePolicyContext, type DeliveryPolicyFactory, type DeliveryPolicyTraits, type PolicyContext,
} from "./delivery-policy-harness.js";
import { describeLifecycle } from "./delivery-policy-lifecycle.js";
import { describeSummaries } from "./delivery-policy-summaries.js";

export type { DeliveryPolicyBackend, DeliveryPolicyFactory, DeliveryPolicyTraits } from "./delivery-policy-harness.js";

/**
 * Registers the delivery policy (docs/delivery-policy.md, SPEC §4) every delivery engine must
 * follow, against the engine `factory` builds. `factory` is called before each test and must
 * return a fresh, empty backend (e.g. a unique Redis key prefix) and clean it up after.
 * Real timers with short settings: assertions are on order, counts and bodies, not elapsed time.
 */
export function describeDeliveryPolicy(name: string, factory: DeliveryPolicyFactory, traits: DeliveryPolicyTraits): void {
  describe(`delivery policy: ${name}`, () => {
    const ctx = usePolicyContext(factory, traits);
    describeBufferingAndLinks(ctx);
    describeFailures(ctx);
    describeLifecycle(ctx);
    describeSummaries(ctx);
    if (traits.shared) describeSharing(ctx);
  });
}

/** Engines whose writers share one backend: what one instance does, every instance sees. */
function describeSharing(ctx: PolicyContext): void {
  describe("instances sharing one backend", () => {
    it("count a replay that reaches two instances once", async () => {
      const a = ctx.writer();
      const b = ctx.writer();
      const t = recentSeconds();
      const batch = [slim("x", t, 0), slim("y", t + 1, 1)];
      await a.onSessionLinked("s", "c");
      const outcomes = await Promise.all([a.writeActions(null, "s", batch), b.writeActions(null, "s", batch), a.writeActions(null, "s", batch)]);
      expect(outcomes.map((o) => o.accepted).reduce((x, y) => x + y)).toBe(2);
      expect(outcomes.map((o) => o.duplicates).reduce((x, y) => x + y)).toBe(4);
      await eventually(() => expect(deliveredLines(a, b)).toEqual(["x", "y"]));
      await sleep(200);
      expect([...a.calls, ...b.calls]).toHaveLength(1);
    });

    it("see, take and re-drive each other's dead letters", async () => {
      const a = ctx.writer();
      const b = ctx.writer();
      // Either instance may post a note: both refuse the doomed ones.
      let doomed = "lost";
      const refuse = (c: RecordedCall): PostBehaviour | undefined =>
        c.body.endsWith(`] ${doomed}`) ? { kind: "fail", error: new PermanentDeliveryError("rejected", { status: 422 }) } : undefined;
      a.behaviourFor = refuse;
      b.behaviourFor = refuse;
      await a.writeActions("c", "s", [slim("lost", recentSeconds())]);
      await eventually(async () => expect(await b.deadLetters()).toHaveLength(1));
      const [letter] = await b.deadLetters();
      expect(letter).toMatchObject({ sessionId: "s", reason: "permanent_error", actions: [{ description: "lost" }] });
      doomed = "again";
      expect(await b.redriveDeadLetters([letter?.id ?? ""])).toMatchObject({ requeued: 1, actions: 1, missing: [] });
      await eventually(() => expect(deliveredLines(a, b)).toEqual(["lost"]));
      expect(await a.deadLetters()).toEqual([]);

      await a.writeActions("c", "s", [slim("again", recentSeconds() + 1, 1)]);
      await eventually(async () => expect(await b.deadLetters()).toHaveLength(1));
      expect((await b.takeDeadLetters()).map((l) => l.actions[0]?.description)).toEqual(["again"]);
      expect(await a.deadLetters()).toEqual([]);
      expect(await a.takeDeadLetters()).toEqual([]);
    });

    it("agree on the link: a write from an instance with an older view does not move the session back", async () => {
      const a = ctx.writer();
      const b = ctx.writer();
      await a.onSessionLinked("s", "old");
      await b.onSessionLinked("s", "new");
      await a.writeActions("old", "s", [slim("from a stale instance", recentSeconds())]);
      await eventually(() => expect(deliveredLines(a, b)).toEqual(["from a stale instance"]));
      expect([...a.notes, ...b.notes][0]?.conversationId).toBe("new");
      expect(await a.linkedConversation("s")).toBe("new");
    });
  });
}
