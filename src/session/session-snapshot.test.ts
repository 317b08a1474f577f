import { describe, expect, it } from "vitest";
import { AgentState } from "./agent-state.js";
import { ConversationEventType } from "./conversation-event.js";
import { SESSION_SNAPSHOT_VERSION } from "./session-snapshot.js";
import { SessionState } from "./session-state.js";

const A = 1_700_000_000_000;

function clockAt(t: number) {
  const clock = { t, now: () => clock.t };
  return clock;
}

/** A state with every field away from its default. */
function busyState() {
  const clock = clockAt(A);
  const state = new SessionState({ sessionId: "s-1", now: clock.now, metadata: { user_id: "u-1", tags: ["a", { b: 1 }] } });
  state.onConversationLinked("c-1", ConversationEventType.NEW);
  state.transitionToProactive("trigger-1");
  clock.t += 500;
  state.recordOptionClick();
  state.setVisualGuidance(true, "tour-1", { interactionTimeoutMs: 30_000 });
  return { state, clock };
}

describe("toJSON", () => {
  it("writes snake_case keys, a version and epoch-ms times", () => {
    const { state } = busyState();
    expect(state.toJSON()).toEqual({
      version: SESSION_SNAPSHOT_VERSION,
      session_id: "s-1",
      metadata: { user_id: "u-1", tags: ["a", { b: 1 }] },
      conversation_linked: true,
      conversation_id: "c-1",
      current_state: AgentState.PROACTIVE,
      trigger_id: "trigger-1",
      option_clicked: true,
      visual_guidance_active: true,
      tour_id: "tour-1",
      tour_overrides: { interaction_timeout_ms: 30_000, cooldown_ms: null },
      last_interaction_at_ms: A + 500,
      cooldown_until_ms: null,
      created_at_ms: A,
      updated_at_ms: A + 500,
      previous_conversation_ids: [],
    });
  });

  it("is what JSON.stringify writes", () => {
    const { state } = busyState();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state.toJSON());
  });
});

describe("fromJSON", () => {
  it("round-trips exactly, from the object or its JSON text", () => {
    const { state, clock } = busyState();
    expect(SessionState.fromJSON(state.toJSON(), { now: clock.now }).toJSON()).toEqual(state.toJSON());
    expect(SessionState.fromJSON(JSON.stringify(state), { now: clock.now }).toJSON()).toEqual(state.toJSON());
  });

  it("round-trips a cooldown and an override-free state", () => {
    const clock = clockAt(A);
    const state = new SessionState({ sessionId: "s-2", now: clock.now });
    state.transitionToReactive();
    clock.t += 20_001;
    state.tick();
    expect(SessionState.fromJSON(JSON.stringify(state), { now: clock.now }).toJSON()).toEqual(state.toJSON());
  });

  it("restored state keeps behaving: per-tour override survives", () => {
    const { state, clock } = busyState();
    const copy = SessionState.fromJSON(JSON.stringify(state), { now: clock.now });
    clock.t += 30_000;
    expect(copy.tick()).toBe(false);
    clock.t += 1;
    expect(copy.tick()).toBe(true);
  });

  it("clone is independent", () => {
    const { state } = busyState();
    const copy = state.clone();
    expect(copy.toJSON()).toEqual(state.toJSON());
    (copy.metadata.tags as unknown[]).push("x");
    expect(state.metadata.tags).toEqual(["a", { b: 1 }]);
  });
});

describe("a snapshot moved to another process with a later clock", () => {
  const k = 3_600_000; // clock B = clock A + k, e.g. a restart an hour later or another host

  it("keeps the cooldown: active at A+59 s, inactive at A+61 s", () => {
    const a = clockAt(A - 20_001);
    const writer = new SessionState({ sessionId: "s-1", now: a.now });
    writer.transitionToProactive("t");
    a.t = A;
    expect(writer.tick()).toBe(true);
    const snapshot = JSON.stringify(writer);

    const b = clockAt(A + 59_000);
    expect(SessionState.fromJSON(snapshot, { now: b.now }).isCooldownActive()).toBe(true);
    b.t = A + 61_000;
    const reader = SessionState.fromJSON(snapshot, { now: b.now });
    expect(reader.isCooldownActive()).toBe(false);
    expect(reader.transitionToProactive("t-2")).toBe(true);
  });

  it("keeps the interaction timeout: interaction at A, read at A+21 s ticks", () => {
    const writer = new SessionState({ sessionId: "s-1", now: () => A });
    writer.transitionToReactive();
    const snapshot = JSON.stringify(writer);
    expect(SessionState.fromJSON(snapshot, { now: () => A + 19_000 }).tick()).toBe(false);
    expect(SessionState.fromJSON(snapshot, { now: () => A + 21_000 }).tick()).toBe(true);
  });

  it("reads a snapshot an hour later without losing the link", () => {
    const { state } = busyState();
    const later = SessionState.fromJSON(JSON.stringify(state), { now: () => A + k });
    expect(later.tick()).toBe(true);
    expect(later).toMatchObject({ conversationLinked: true, conversationId: "c-1", currentState: AgentState.THINKING });
    expect(later.cooldownRemainingMs()).toBe(60_000);
  });
});

describe("fromJSON rejects bad snapshots with a TypeError", () => {
  const good = () => busyState().state.toJSON() as unknown as Record<string, unknown>;
  const cases: [string, unknown, RegExp][] = [
    ["invalid JSON text", "{nope", /not valid JSON/],
    ["a non-object", "[1,2]", /must be a JSON object, got an array/],
    ["null", null, /must be a JSON object, got null/],
    ["an unknown version", { ...good(), version: 2 }, /version must be 1 .*got number 2/],
    ["a missing version", { ...good(), version: undefined }, /version/],
    ["an unknown state", { ...good(), current_state: "sleeping" }, /current_state must be an AgentState value/],
    ["an empty session id", { ...good(), session_id: "" }, /session_id must be a non-empty string/],
    ["a string time", { ...good(), last_interaction_at_ms: "123" }, /last_interaction_at_ms must be a finite number/],
    ["a string boolean", { ...good(), option_clicked: "true" }, /option_clicked must be a boolean/],
    ["metadata as an array", { ...good(), metadata: [] }, /metadata must be an object/],
    ["non-JSON metadata", { ...good(), metadata: { when: new Date(0) } }, /metadata\.when must be a JSON value/],
    ["a bad override", { ...good(), tour_overrides: { interaction_timeout_ms: -1, cooldown_ms: null } }, /tour_overrides\.interaction_timeout_ms/],
    ["a link without an id", { ...good(), conversation_id: null }, /conversation_id must be set exactly when/],
  ];

  it.each(cases)("%s", (_name, input, message) => {
    expect(() => SessionState.fromJSON(input)).toThrow(TypeError);
    expect(() => SessionState.fromJSON(input)).toThrow(message);
  });

  it("never trusts __proto__ keys", () => {
    const text = JSON.stringify(good()).replace('"metadata":{', '"metadata":{"__proto__":{"polluted":true},');
    const state = SessionState.fromJSON(`{"__proto__":{"version":1},${JSON.stringify(good()).slice(1)}`);
    expect(Object.getPrototypeOf(state.metadata)).toBe(Object.prototype);
    const fromPolluted = SessionState.fromJSON(text);
    expect(Object.hasOwn(fromPolluted.metadata, "__proto__")).toBe(false);
    expect((fromPolluted.metadata as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("does not read inherited fields", () => {
    const inherited = Object.assign(Object.create(good()) as object, {});
    expect(() => SessionState.fromJSON(inherited)).toThrow(TypeError);
  });

  it("rejects metadata nested too deeply instead of overflowing the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i += 1) deep = { d: deep };
    expect(() => SessionState.fromJSON({ ...good(), metadata: deep })).toThrow(/nested at most/);
  });
});
