/** Wire payloads: types, parsing, merging and text forms (SPEC §2). */
export type { ActionsPayload, NoteAction, Payload, SlimAction, SummaryPayload } from "./types.js";
export { PayloadFieldError, parseActionsPayload, parsePayload, parseSlimAction, parseSummaryPayload } from "./parse.js";
export type { ParseOptions } from "./parse.js";
export { mergeActionsPayloads } from "./merge.js";
export { actionsPayloadToText, slimActionToText } from "./text.js";
export type { TextAction } from "./text.js";
