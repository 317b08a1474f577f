/** Coalescing several actions batches of one session into one (SPEC §2). */
import { PayloadError } from "../errors.js";
import { keepDefaulted, markDefaulted } from "./parse.js";
import type { ActionsPayload, SlimAction } from "./types.js";

const OPTIONAL_ACTION_IDS = ["session_id", "user_id", "email", "conversation_id"] as const;

/**
 * Concatenates the batches' actions in list order, re-indexed from 0 (fresh objects; the inputs
 * are not mutated). Each id comes from the first batch where it is non-empty; `forwarded_at` is
 * the latest; `count` is the total. Batches are assumed to belong to one session: merging
 * different sessions is not detected. An empty list is a {@link PayloadError}.
 *
 * `reindex: false` keeps each action's wire `index` (its position in the session), for callers
 * that coalesce a queue of batches and must not change how actions are identified downstream
 * (e.g. Redis delivery deduplicates replays on `index`).
 */
export function mergeActionsPayloads(list: readonly ActionsPayload[], options: { reindex?: boolean } = {}): ActionsPayload {
  const reindex = options.reindex ?? true;
  if (list.length === 0) throw new PayloadError("cannot merge an empty list of actions payloads");
  const actions: SlimAction[] = [];
  let productId = "";
  let sessionId: string | null = null;
  let userId: string | null = null;
  let email: string | null = null;
  let conversationId: string | null = null;
  let forwardedAt = -Infinity;
  for (const p of list) {
    productId ||= p.product_id;
    sessionId ||= p.session_id;
    userId ||= p.user_id;
    email ||= p.email;
    conversationId ||= p.conversation_id;
    // `>` skips NaN, so one corrupt batch cannot poison the maximum.
    if (p.forwarded_at > forwardedAt) forwardedAt = p.forwarded_at;
    for (const a of p.actions) actions.push(reindexed(a, reindex ? actions.length : a.index));
  }
  return {
    type: "actions",
    product_id: productId || "",
    session_id: sessionId || null,
    user_id: userId || null,
    email: email || null,
    actions,
    count: actions.length,
    forwarded_at: Number.isFinite(forwardedAt) ? forwardedAt : 0,
    conversation_id: conversationId || null,
  };
}

// Field by field, so extra properties a caller hung on an action never travel further.
function reindexed(a: SlimAction, index: number): SlimAction {
  const copy: SlimAction = {
    index,
    type: a.type,
    title: a.title,
    description: a.description,
    canonical_url: a.canonical_url,
    raw_url: a.raw_url,
    timestamp_start: a.timestamp_start,
    timestamp_end: a.timestamp_end,
  };
  for (const key of OPTIONAL_ACTION_IDS) {
    const value = a[key];
    if (value !== undefined) copy[key] = value;
  }
  // A re-assigned index is not the one sent: dedupe must not take it as the action's identity.
  keepDefaulted(a, copy);
  if (index !== a.index) markDefaulted(copy, "index");
  return copy;
}
