import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../errors.js";
import { AgentState } from "./agent-state.js";
import { ConversationEventType } from "./conversation-event.js";
import { SessionState, type SessionStateOptions } from "./session-state.js";
import { applyTransition, isAllowedTransition } from "./transitions.js";

const T0 = 1_700_000_000_000;
const { THINKING, PROACTIVE, REACTIVE } = AgentState;

/** A session on a hand-driven wall clock (epoch ms). */
function session(options: Partial<SessionStateOptions> = {}) {
  const clock = { t: T0 };
  const state = new SessionState({ sessionId: "s-1", now: () => clock.t, ...options });
  return { state, clock, advance: (ms: number) => (clock.t += ms) };
}

function inState(target: AgentState, options: Partial<SessionStateOptions> = {}) {
  const s = session(options);
  if (target === PROACTIVE) s.state.transitionToProactive("trigger-1");
  if (target === REACTIVE) s.state.transitionToReactive();
  return s;
}

describe("transition table", () => {
  const allowed = new Set([`${THINKING}>${PROACTIVE}`, `${THINKING}>${REACTIVE}`, `${PROACTIVE}>${THINKING}`, `${REACTIVE}>${THINKING}`]);
  const states = [THINKING, PROACTIVE, REACTIVE];
  const pairs = states.flatMap((from) => states.map((to) => ({ from, to, ok: allowed.has(`${from}>${to}`) })));

  it.each(pairs)("$from -> $to allowed: $ok", ({ from, to, ok }) => {
    expect(isAllowedTransition(from, to)).toBe(ok);
    if (ok) expect(applyTransition(from, to)).toBe(to);
    else expect(() => applyTransition(from, to)).toThrow(InvalidTransitionError);
  });
});

describe("SessionState transitions (SPEC §5)", () => {
  type Op = "proactive" | "reactive" | "tick";
  const run = (state: SessionState, op: Op): unknown =>
    op === "proactive" ? state.transitionToProactive("trigger-2") : op === "reactive" ? state.transitionToReactive() : state.tick();
  const rows: { from: AgentState; op: Op; to: AgentState | "throws" }[] = [
    { from: THINKING, op: "proactive", to: PROACTIVE },
    { from: THINKING, op: "reactive", to: REACTIVE },
    { from: THINKING, op: "tick", to: THINKING },
    { from: PROACTIVE, op: "tick", to: THINKING },
    { from: REACTIVE, op: "tick", to: THINKING },
    { from: PROACTIVE, op: "proactive", to: "throws" },
    { from: PROACTIVE, op: "reactive", to: "throws" },
    { from: REACTIVE, op: "reactive", to: "throws" },
    { from: REACTIVE, op: "proactive", to: "throws" },
  ];

  it.each(rows)("$from --$op--> $to", ({ from, op, to }) => {
    const { state, advance } = inState(from);
    advance(20_001);
    if (to === "throws") {
      const before = state.toJSON();
      expect(() => run(state, op)).toThrow(InvalidTransitionError);
      expect(state.toJSON()).toEqual(before);
    } else {
      run(state, op);
      expect(state.currentState).toBe(to);
    }
  });

  it("names both states in the error", () => {
    const { state } = inState(PROACTIVE);
    const error = (() => {
      try {
        state.transitionToReactive();
      } catch (e) {
        return e as InvalidTransitionError;
      }
    })();
    expect(error).toMatchObject({ code: "INVALID_TRANSITION", from: PROACTIVE, to: REACTIVE });
  });

  it("entering PROACTIVE records the trigger and resets the interaction timer", () => {
    const { state, advance } = session();
    advance(50_000);
    expect(state.transitionToProactive("t-9")).toBe(true);
    expect(state.triggerId).toBe("t-9");
    expect(state.toJSON().last_interaction_at_ms).toBe(T0 + 50_000);
  });

  it("PROACTIVE is refused (false, nothing changes) while a cooldown is active", () => {
    const { state, advance } = inState(PROACTIVE);
    advance(20_001);
    state.tick();
    const before = state.toJSON();
    advance(1_000);
    expect(state.transitionToProactive("t-2")).toBe(false);
    expect(state.toJSON()).toEqual(before);
  });

  it("REACTIVE is allowed during a cooldown and clears it", () => {
    const { state, advance } = inState(REACTIVE);
    advance(20_001);
    state.tick();
    expect(state.isCooldownActive()).toBe(true);
    state.transitionToReactive();
    expect(state.isCooldownActive()).toBe(false);
    expect(state.toJSON().cooldown_until_ms).toBeNull();
  });

  it("tick ends visual guidance and clears the episode", () => {
    const { state, advance } = inState(PROACTIVE);
    state.recordOptionClick();
    state.setVisualGuidance(true, "tour-1");
    advance(20_001);
    expect(state.tick()).toBe(true);
    expect(state).toMatchObject({ visualGuidanceActive: false, tourId: null, triggerId: null, optionClicked: false });
  });
});

describe("timeout and cooldown edges", () => {
  it("exactly at the timeout there is no transition; 1 ms past there is", () => {
    const { state, advance } = inState(REACTIVE);
    advance(20_000);
    expect(state.tick()).toBe(false);
    expect(state.currentState).toBe(REACTIVE);
    advance(1);
    expect(state.tick()).toBe(true);
    expect(state.currentState).toBe(THINKING);
  });

  it("each kind of interaction resets the timer", () => {
    for (const record of ["recordUserInteraction", "recordOptionClick", "recordReaction", "recordTourStep"] as const) {
      const { state, advance } = inState(PROACTIVE);
      advance(15_000);
      state[record]();
      advance(15_000);
      expect(state.tick()).toBe(false);
      advance(5_001);
      expect(state.tick()).toBe(true);
    }
  });

  it("the cooldown is active 1 ms before its end and inactive exactly at it", () => {
    const { state, advance } = inState(PROACTIVE);
    advance(20_001);
    state.tick();
    expect(state.cooldownRemainingMs()).toBe(60_000);
    advance(59_999);
    expect(state.isCooldownActive()).toBe(true);
    expect(state.cooldownRemainingMs()).toBe(1);
    advance(1);
    expect(state.isCooldownActive()).toBe(false);
    expect(state.cooldownRemainingMs()).toBe(0);
    expect(state.transitionToProactive("t-2")).toBe(true);
  });

  it("uses the configured timeout and cooldown", () => {
    const { state, advance } = inState(REACTIVE, { interactionTimeoutMs: 100, cooldownMs: 0 });
    advance(101);
    expect(state.tick()).toBe(true);
    expect(state.isCooldownActive()).toBe(false);
  });

  it("recordOptionClick sets the clicked flag only in PROACTIVE", () => {
    const reactive = inState(REACTIVE).state;
    reactive.recordOptionClick();
    expect(reactive.optionClicked).toBe(false);
    const thinking = session().state;
    thinking.recordOptionClick();
    expect(thinking.optionClicked).toBe(false);
    const proactive = inState(PROACTIVE).state;
    proactive.recordOptionClick();
    expect(proactive.optionClicked).toBe(true);
  });
});

describe("visual guidance", () => {
  it("is refused in THINKING with an InvalidTransitionError", () => {
    const { state } = session();
    expect(() => state.setVisualGuidance(true, "tour-1")).toThrow(/visual guidance needs/);
    expect(() => state.setVisualGuidance(false)).toThrow(InvalidTransitionError);
  });

  it("starting a tour counts as an interaction; ending one does not", () => {
    const { state, advance } = inState(REACTIVE);
    advance(19_000);
    state.setVisualGuidance(true, "tour-1");
    expect(state).toMatchObject({ visualGuidanceActive: true, tourId: "tour-1" });
    advance(19_000);
    state.setVisualGuidance(false);
    expect(state).toMatchObject({ visualGuidanceActive: false, tourId: null });
    advance(1_001);
    expect(state.tick()).toBe(true);
  });

  it("per-tour overrides apply while the tour runs and to the cooldown that ends it", () => {
    const { state, advance } = inState(PROACTIVE);
    state.setVisualGuidance(true, "tour-1", { interactionTimeoutMs: 90_000, cooldownMs: 5_000 });
    advance(90_000);
    expect(state.tick()).toBe(false);
    advance(1);
    expect(state.tick()).toBe(true);
    expect(state.cooldownRemainingMs()).toBe(5_000);
  });

  it("a partial override keeps the other default", () => {
    const { state, advance } = inState(PROACTIVE);
    state.setVisualGuidance(true, "tour-1", { cooldownMs: 1_000 });
    advance(20_001);
    expect(state.tick()).toBe(true);
    expect(state.cooldownRemainingMs()).toBe(1_000);
  });

  it("overrides end with the tour", () => {
    const { state, advance } = inState(REACTIVE);
    state.setVisualGuidance(true, "tour-1", { interactionTimeoutMs: 90_000, cooldownMs: 5_000 });
    state.setVisualGuidance(false);
    advance(20_001);
    expect(state.tick()).toBe(true);
    expect(state.cooldownRemainingMs()).toBe(60_000);
  });

  it("rejects a bad override or tour id", () => {
    const { state } = inState(REACTIVE);
    expect(() => state.setVisualGuidance(true, "t", { cooldownMs: -1 })).toThrow(/overrides\.cooldownMs must be/);
    expect(() => state.setVisualGuidance(true, "")).toThrow(/tourId/);
  });
});

describe("canDeliverProactive", () => {
  it("reports wrong_state, cooldown_active, not_linked and ok, in that order", () => {
    const { state, advance } = inState(PROACTIVE);
    expect(state.canDeliverProactive()).toEqual({ ok: false, reason: "wrong_state" });
    advance(20_001);
    state.tick();
    expect(state.canDeliverProactive()).toEqual({ ok: false, reason: "cooldown_active" });
    advance(60_000);
    expect(state.canDeliverProactive()).toEqual({ ok: false, reason: "not_linked" });
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    expect(state.canDeliverProactive()).toEqual({ ok: true, reason: "ok" });
  });

  it("does not tick by itself", () => {
    const { state, advance } = inState(REACTIVE);
    advance(1_000_000);
    expect(state.canDeliverProactive().reason).toBe("wrong_state");
  });
});

describe("onConversationLinked", () => {
  it("NEW links, then overwrites an earlier conversation", () => {
    const { state } = session();
    expect(state.onConversationLinked("c-1", ConversationEventType.NEW)).toBe(true);
    expect(state).toMatchObject({ conversationLinked: true, conversationId: "c-1" });
    expect(state.onConversationLinked("c-2", ConversationEventType.NEW)).toBe(true);
    expect(state.conversationId).toBe("c-2");
    expect(state.onConversationLinked("c-2", ConversationEventType.NEW)).toBe(false);
  });

  it("REPLY_EXISTING links an unlinked session but never overwrites", () => {
    const { state } = session();
    expect(state.onConversationLinked("c-1", ConversationEventType.REPLY_EXISTING)).toBe(true);
    expect(state.conversationId).toBe("c-1");
    expect(state.onConversationLinked("c-2", ConversationEventType.REPLY_EXISTING)).toBe(false);
    expect(state.conversationId).toBe("c-1");
  });

  it("rejects an empty id or unknown event type", () => {
    const { state } = session();
    expect(() => state.onConversationLinked("", ConversationEventType.NEW)).toThrow(TypeError);
    expect(() => state.onConversationLinked("c", "other" as ConversationEventType)).toThrow(/eventType/);
    expect(state.conversationLinked).toBe(false);
  });
});

describe("unlinkConversation and earlier conversations", () => {
  it("clears the link only while it points at that conversation, and persists as an unlinked state", () => {
    const { state, advance } = session();
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    advance(10);
    expect(state.unlinkConversation("c-other")).toBe(false);
    expect(state.conversationId).toBe("c-1");
    expect(state.unlinkConversation("c-1")).toBe(true);
    expect(state).toMatchObject({ conversationLinked: false, conversationId: null, updatedAtMs: T0 + 10 });
    expect(state.unlinkConversation("c-1")).toBe(false);
    const snap = state.toJSON();
    expect(snap).toMatchObject({ conversation_linked: false, conversation_id: null, previous_conversation_ids: ["c-1"] });
    expect(SessionState.fromJSON(JSON.stringify(snap)).conversationLinked).toBe(false);
    expect(() => state.unlinkConversation("")).toThrow(TypeError);
  });

  it("remembers the conversations it left (each once, bounded), and says so through knowsConversation", () => {
    const { state } = session();
    expect(state.knowsConversation("c-1")).toBe(false);
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    state.onConversationLinked("c-2", ConversationEventType.NEW);
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    expect(state.previousConversationIds).toEqual(["c-2"]);
    expect(state.conversationId).toBe("c-1");
    expect([state.knowsConversation("c-1"), state.knowsConversation("c-2"), state.knowsConversation("c-3")]).toEqual([true, true, false]);
    for (let i = 0; i < 40; i += 1) state.onConversationLinked(`x-${i}`, ConversationEventType.NEW);
    expect(state.previousConversationIds).toHaveLength(16);
    expect(SessionState.fromJSON(JSON.stringify(state)).previousConversationIds).toEqual(state.previousConversationIds);
  });

  it("a snapshot without the field (written before it existed) knows every conversation, to stay conservative", () => {
    const { state } = session();
    state.onConversationLinked("c-1", ConversationEventType.NEW);
    const { previous_conversation_ids: _dropped, ...legacy } = state.toJSON();
    const revived = SessionState.fromJSON(legacy);
    expect(revived.previousConversationIds).toBeNull();
    expect(revived.knowsConversation("c-never")).toBe(true);
    revived.onConversationLinked("c-2", ConversationEventType.NEW);
    expect(revived.toJSON()).not.toHaveProperty("previous_conversation_ids");
    expect(() => SessionState.fromJSON({ ...legacy, previous_conversation_ids: [""] })).toThrow(/previous_conversation_ids\[0\]/);
  });
});

describe("construction", () => {
  it("validates options with a TypeError naming the option, the expectation and the value", () => {
    expect(() => new SessionState({ sessionId: "" })).toThrow("sessionId must be a non-empty string, got an empty string");
    expect(() => new SessionState({ sessionId: 42 as unknown as string })).toThrow(/sessionId .* got number 42/);
    expect(() => new SessionState({ sessionId: "s", interactionTimeoutMs: -1 })).toThrow(/interactionTimeoutMs must be .*>= 0, got number -1/);
    expect(() => new SessionState({ sessionId: "s", cooldownMs: Infinity })).toThrow(/cooldownMs/);
    expect(() => new SessionState({ sessionId: "s", now: 5 as unknown as () => number })).toThrow(/now must be a function/);
    expect(() => new SessionState({ sessionId: "s", metadata: [] as unknown as Record<string, unknown> })).toThrow(/metadata/);
    expect(() => new SessionState({ sessionId: "s", now: () => Number.NaN })).toThrow(/now\(\) must be finite epoch milliseconds/);
  });

  it("starts THINKING, unlinked, stamped with the injected clock, with its own metadata copy", () => {
    const metadata = { user_id: "u-1" };
    const { state } = session({ metadata });
    metadata.user_id = "changed";
    expect(state).toMatchObject({ sessionId: "s-1", currentState: THINKING, conversationLinked: false, conversationId: null });
    expect(state.metadata).toEqual({ user_id: "u-1" });
    expect(state.toJSON()).toMatchObject({ created_at_ms: T0, updated_at_ms: T0, last_interaction_at_ms: T0 });
  });
});
