/** A writer's counters (since construction) and gauges (now), for metrics and tests. */
export interface WriterStats {
  /** Actions passed to `writeActions`. */
  actionsReceived: number;
  /** Actions in notes the platform confirmed. */
  actionsDelivered: number;
  /** Pre-link actions that fell out of the window (the documented policy, not a failure). */
  actionsTrimmed: number;
  /** Pre-link actions of sessions that expired unlinked. */
  actionsExpired: number;
  /** Actions dropped because the same action was already accepted (a replayed batch). */
  actionsDuplicate: number;
  /** Sessions unlinked because their conversation was gone. */
  unlinked: number;
  notesPosted: number;
  /** Failed platform calls (each retry that fails counts again). */
  postFailures: number;
  retries: number;
  /** Posts the writer held back itself (per-conversation spacing), retried without spending budget. */
  throttled: number;
  /** Notes moved to the dead letter. */
  deadLettered: number;
  deadLetteredActions: number;
  /** Dead letters pushed out of the bounded list by newer ones. */
  deadLettersEvicted: number;
  /** Summary notes confirmed by the platform. */
  summariesPosted: number;
  /** Summary notes dead-lettered (their snapshots were not redacted). */
  summariesFailed: number;
  /** Summaries of sessions without a conversation, not posted. */
  summariesSkipped: number;
  /** Notes redacted after a confirmed summary. */
  redactions: number;
  /** Failed redaction calls that were tried again. */
  redactionRetries: number;
  /** Redactions given up (budget, permanent error, close bound). */
  redactionsFailed: number;
  /** Sessions tracked now. */
  sessions: number;
  /** Posts in flight now. */
  inFlight: number;
  /** Dead letters held now. */
  deadLetters: number;
}

export function emptyWriterStats(): WriterStats {
  return {
    actionsReceived: 0,
    actionsDelivered: 0,
    actionsTrimmed: 0,
    actionsExpired: 0,
    actionsDuplicate: 0,
    unlinked: 0,
    notesPosted: 0,
    postFailures: 0,
    retries: 0,
    throttled: 0,
    deadLettered: 0,
    deadLetteredActions: 0,
    deadLettersEvicted: 0,
    summariesPosted: 0,
    summariesFailed: 0,
    summariesSkipped: 0,
    redactions: 0,
    redactionRetries: 0,
    redactionsFailed: 0,
    sessions: 0,
    inFlight: 0,
    deadLetters: 0,
  };
}
