/** Note bodies posted into conversations (SPEC §3). */
export { formatChatbotNoteHeader, formatNote, formatNoteColumns, formatSummaryNote } from "./format.js";
