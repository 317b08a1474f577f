/** Human-readable text forms of payloads (SPEC §2), e.g. for LLM prompts and logs. */
import type { ActionsPayload, SlimAction } from "./types.js";

const EM_DASH = "\u2014";

/** The fields of an action that its text form shows. */
export type TextAction = Pick<SlimAction, "index" | "type" | "description" | "canonical_url">;

/** `[{index}] {type}: {description} — {canonical_url}`, with the wire `index` and a U+2014 dash. */
export function slimActionToText(action: TextAction): string {
  return `[${action.index}] ${action.type}: ${action.description} ${EM_DASH} ${action.canonical_url}`;
}

/**
 * `Session {session_id or "unknown"} — {N} actions`, then one {@link slimActionToText} line per
 * action, joined with "\n" and no trailing newline. N is `actions.length`, never the wire `count`;
 * "1 actions" is kept as is to stay byte-identical with the reference.
 */
export function actionsPayloadToText(payload: {
  readonly session_id: ActionsPayload["session_id"] | undefined;
  readonly actions: readonly TextAction[];
}): string {
  let text = `Session ${payload.session_id || "unknown"} ${EM_DASH} ${payload.actions.length} actions`;
  for (const action of payload.actions) text += "\n" + slimActionToText(action);
  return text;
}
