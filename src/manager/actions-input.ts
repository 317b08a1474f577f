import { PayloadError } from "../errors.js";
import type { ActionsPayload } from "../payloads/types.js";
import type { SessionState } from "../session/session-state.js";

/** The identity fields of an actions payload. */
export interface PayloadIdentity {
  user_id: string | null;
  email: string | null;
}

/** A payload the caller says is parsed: trusted as such, but a wrong shape still fails clearly. */
export function requireParsed(payload: unknown): ActionsPayload {
  const candidate = payload as Partial<ActionsPayload> | null;
  if (candidate === null || typeof candidate !== "object" || candidate.type !== "actions" || !Array.isArray(candidate.actions)) {
    throw new PayloadError("with { parsed: true }, onActions expects an ActionsPayload returned by parseActionsPayload");
  }
  return candidate as ActionsPayload;
}

export function identityChanges(state: SessionState, identity: PayloadIdentity): boolean {
  return (identity.user_id !== null && identity.user_id !== "" && state.metadata.user_id !== identity.user_id) ||
    (identity.email !== null && identity.email !== "" && state.metadata.email !== identity.email);
}

export function mergeIdentity(state: SessionState, identity: PayloadIdentity): void {
  if (identity.user_id) state.metadata.user_id = identity.user_id;
  if (identity.email) state.metadata.email = identity.email;
}

