import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../errors.js";
import { AgentState, isAgentState } from "./agent-state.js";
import { ConversationEventType } from "./conversation-event.js";
import { SessionState } from "./session-state.js";

const DEFAULT_TIMEOUT = 20_000;
const DEFAULT_COOLDOWN = 60_000;

const duration = fc.integer({ min: 0, max: 120_000 });
const op = fc.oneof(
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  fc.record({ kind: fc.constant("proactive" as const) }),
  fc.record({ kind: fc.constant("reactive" as const) }),
  fc.record({ kind: fc.constant("tick" as const) }),
  fc.record({ kind: fc.constant("reload" as const) }),
  fc.record({
    kind: fc.constant("interaction" as const),
    which: fc.constantFrom("recordUserInteraction", "recordOptionClick", "recordReaction", "recordTourStep" as const),
  }),
  fc.record({
    kind: fc.constant("guidance" as const),
    active: fc.boolean(),
    tourId: fc.option(fc.constantFrom("tour-1", "tour-2"), { nil: undefined }),
    overrides: fc.option(fc.record({ interactionTimeoutMs: duration, cooldownMs: duration }, { requiredKeys: [] }), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant("link" as const),
    conversationId: fc.constantFrom("c-1", "c-2", "c-3"),
    event: fc.constantFrom(ConversationEventType.NEW, ConversationEventType.REPLY_EXISTING),
  }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Runs one operation, asserting what the SPEC says it must do given the state before it. */
function step(state: SessionState, o: Op, clock: { t: number }): SessionState {
  const before = state.toJSON();
  const thinking = before.current_state === AgentState.THINKING;
  const expectInvalid = (fn: () => unknown) => expect(fn).toThrow(InvalidTransitionError);
  switch (o.kind) {
    case "advance":
      clock.t += o.ms;
      return state;
    case "reload":
      return SessionState.fromJSON(JSON.stringify(state), { now: () => clock.t });
    case "proactive": {
      if (!thinking) return (expectInvalid(() => state.transitionToProactive("t")), state);
      const cooling = state.isCooldownActive();
      expect(state.transitionToProactive("t")).toBe(!cooling);
      if (cooling) expect(state.toJSON()).toEqual(before);
      else expect(state.currentState).toBe(AgentState.PROACTIVE);
      return state;
    }
    case "reactive":
      if (!thinking) return (expectInvalid(() => state.transitionToReactive()), state);
      state.transitionToReactive();
      expect(state.isCooldownActive()).toBe(false);
      return state;
    case "tick": {
      const timeout = before.tour_overrides?.interaction_timeout_ms ?? DEFAULT_TIMEOUT;
      const due = !thinking && clock.t - before.last_interaction_at_ms > timeout;
      expect(state.tick()).toBe(due);
      if (due) expect(state.cooldownRemainingMs()).toBe(before.tour_overrides?.cooldown_ms ?? DEFAULT_COOLDOWN);
      return state;
    }
    case "interaction":
      state[o.which]();
      expect(state.toJSON().last_interaction_at_ms).toBe(clock.t);
      return state;
    case "guidance":
      if (thinking) return (expectInvalid(() => state.setVisualGuidance(o.active, o.tourId, o.overrides)), state);
      state.setVisualGuidance(o.active, o.tourId, o.overrides);
      expect(state.visualGuidanceActive).toBe(o.active);
      return state;
    case "link": {
      const changed = state.onConversationLinked(o.conversationId, o.event);
      const keeps = before.conversation_id !== null && o.event === ConversationEventType.REPLY_EXISTING;
      expect(state.conversationId).toBe(keeps ? before.conversation_id : o.conversationId);
      expect(changed).toBe(state.conversationId !== before.conversation_id);
      return state;
    }
  }
}

function checkInvariants(state: SessionState, clock: { t: number }): void {
  const snap = state.toJSON();
  expect(isAgentState(state.currentState)).toBe(true);
  expect(SessionState.fromJSON(JSON.stringify(snap), { now: () => clock.t }).toJSON()).toEqual(snap);
  if (state.isCooldownActive()) expect(state.currentState).toBe(AgentState.THINKING);
  expect(state.triggerId !== null).toBe(state.currentState === AgentState.PROACTIVE);
  if (state.optionClicked) expect(state.currentState).toBe(AgentState.PROACTIVE);
  if (state.visualGuidanceActive) expect(state.currentState).not.toBe(AgentState.THINKING);
  if (!state.visualGuidanceActive) expect(snap.tour_id === null && snap.tour_overrides === null).toBe(true);
  expect(state.conversationLinked).toBe(state.conversationId !== null);
  expect(state.cooldownRemainingMs()).toBeGreaterThanOrEqual(0);
  const check = state.canDeliverProactive();
  expect(check.ok).toBe(state.currentState === AgentState.THINKING && !state.isCooldownActive() && state.conversationLinked);
}

describe("SessionState under random operation sequences", () => {
  it("keeps its invariants, follows the FSM table and round-trips after every step", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const clock = { t: 1_700_000_000_000 };
        let state = new SessionState({ sessionId: "s-prop", now: () => clock.t });
        let wasLinked = false;
        for (const o of ops) {
          state = step(state, o, clock);
          checkInvariants(state, clock);
          if (wasLinked) expect(state.conversationLinked).toBe(true);
          wasLinked = state.conversationLinked;
        }
      }),
      { numRuns: 400 },
    );
  });
});
