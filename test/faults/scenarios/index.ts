/** Every scenario, in table order. */
import type { Scenario } from "../harness/row.js";
import { continuousStream, hangingCall, lateAnswer, rateLimitIntercom, rateLimitZendesk, retriesExhausted, serverErrors } from "./delivery.js";

export const SCENARIOS: Scenario[] = [rateLimitIntercom, rateLimitZendesk, serverErrors, hangingCall, lateAnswer, retriesExhausted, continuousStream];

export const ORDER = SCENARIOS.map((s) => s.id);

/** Longest first, so they overlap with the rest when scenarios run side by side. */
export const SCHEDULE = [...SCENARIOS].sort((a, b) => b.timeoutMs - a.timeoutMs);
