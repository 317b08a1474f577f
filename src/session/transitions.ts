import { InvalidTransitionError } from "../errors.js";
import { AgentState } from "./agent-state.js";

/**
 * The FSM as data (SPEC §5): for each state, the states it may move to. Anything absent is
 * forbidden, which covers PROACTIVE ↔ REACTIVE and re-entering the current state. Which method may
 * take which move (leaving PROACTIVE/REACTIVE only through `tick()`) is decided by
 * `SessionState`'s API, since only `tick()` ever asks for THINKING.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<AgentState, ReadonlySet<AgentState>>> = {
  [AgentState.THINKING]: new Set([AgentState.PROACTIVE, AgentState.REACTIVE]),
  [AgentState.PROACTIVE]: new Set([AgentState.THINKING]),
  [AgentState.REACTIVE]: new Set([AgentState.THINKING]),
};

/** Whether the table allows moving from `from` to `to`. */
export function isAllowedTransition(from: AgentState, to: AgentState): boolean {
  return ALLOWED_TRANSITIONS[from].has(to);
}

/**
 * Validates one move against {@link ALLOWED_TRANSITIONS} and returns the new state.
 * @throws InvalidTransitionError when the table forbids the move.
 */
export function applyTransition(from: AgentState, to: AgentState): AgentState {
  if (!isAllowedTransition(from, to)) {
    const detail = from === to ? "already in this state" : "not an allowed move";
    throw new InvalidTransitionError(from, to, detail);
  }
  return to;
}
