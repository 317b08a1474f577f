/**
 * The three states of a session's assistance FSM (SPEC §5). The values are the wire values: they
 * are what snapshots persist, so they never change.
 */
export const AgentState = {
  /** The agent watches and may offer help; the resting state. */
  THINKING: "thinking",
  /** The agent offered help on its own initiative (a trigger fired). */
  PROACTIVE: "proactive_assistance",
  /** The user asked for help. */
  REACTIVE: "reactive_assistance",
} as const;

/** One of the {@link AgentState} wire values. */
export type AgentState = (typeof AgentState)[keyof typeof AgentState];

const AGENT_STATES: ReadonlySet<unknown> = new Set(Object.values(AgentState));

/** Whether `value` is one of the {@link AgentState} wire values. */
export function isAgentState(value: unknown): value is AgentState {
  return AGENT_STATES.has(value);
}
