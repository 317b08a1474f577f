import { afterEach, describe, expect, it, vi } from "vitest";
import { parseActionsPayload } from "../payloads/parse.js";
import { DEMO_LOOP_SECONDS, DEMO_USERS, type RecordedUser } from "./recording.js";
import { startDemo } from "./replay.js";

afterEach(() => {
  vi.useRealTimers();
});

const USERS: RecordedUser[] = [
  { name: "a", userId: "u-a", email: "a@example.test", startsAt: 0.5, steps: [[0, "pageview", "Home", "Viewed page Home", "/"], [2, "click", "Home", "Clicked \"Go\"", "/?x=1"]] },
  { name: "b", userId: "u-b", email: "b@example.test", startsAt: 1, steps: [[0, "submit", "Form", "Submitted form", "/form"]] },
];

describe("serve --demo's replay", () => {
  it("sends each recorded action at its time, as a connector payload the parser accepts, and loops with fresh session ids", async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const sent: Array<{ at: number; payload: Record<string, unknown> }> = [];
    let n = 0;
    const demo = startDemo({
      manager: { onActions: async (payload: unknown) => (sent.push({ at: Date.now(), payload: payload as Record<string, unknown> }), {}) as never },
      productId: "demo",
      users: USERS,
      loopSeconds: 10,
      sessionId: (user, loop) => `${user.name}-${loop}-${++n}`,
    });
    await vi.advanceTimersByTimeAsync(400);
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(sent.map((s) => [s.at - 1_700_000_000_000, s.payload.session_id])).toEqual([[500, "a-1-1"], [1_000, "b-1-2"], [2_500, "a-1-1"]]);
    const parsed = parseActionsPayload(sent[2]?.payload);
    expect(parsed).toMatchObject({ session_id: "a-1-1", user_id: "u-a", email: "a@example.test", product_id: "demo" });
    expect(parsed.actions).toEqual([expect.objectContaining({ index: 1, type: "click", description: "Clicked \"Go\"", raw_url: "https://app.tasklane.example/?x=1", canonical_url: "https://app.tasklane.example/", timestamp_start: 1_700_000_002.5 })]);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(demo.loops).toBe(2);
    expect(sent.slice(3).map((s) => [s.at - 1_700_000_000_000, s.payload.session_id])).toEqual([[10_500, "a-2-3"], [11_000, "b-2-4"], [12_500, "a-2-3"]]);
    demo.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sent).toHaveLength(6);
  });

  it("the bundled recording: four users, ordered steps within the loop, every action a well-formed payload", () => {
    expect(DEMO_USERS.map((u) => u.name)).toEqual(["maya", "liam", "sofia", "noah"]);
    for (const user of DEMO_USERS) {
      const times = user.steps.map((s) => s[0]);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(user.startsAt + (times.at(-1) ?? 0)).toBeLessThan(DEMO_LOOP_SECONDS);
      expect(new Set(user.steps.map((s) => s[1]))).toContain("pageview");
    }
  });
});
