/** Every scenario, in table order. */
import type { Scenario } from "../harness/row.js";
import { continuousStream, hangingCall, lateAnswer, lostAnswerHttp, lostAnswerIntercom, rateLimitIntercom, rateLimitZendesk, retriesExhausted, serverErrors } from "./delivery.js";
import { goneHttpRedis, goneIntercom, goneZendesk } from "./gone.js";
import { clientAbort, largeValidBatch, malformed, signatures, unsignedWebhook } from "./input.js";
import { largeFlushMemory, largeFlushRedis, linkRaces, linkRacesTwoInstances, replayMemory, replayTwoInstances, timestamps } from "./ordering.js";
import { redisRestart, secondSigterm, sigkill, sigtermDrain, sigtermDrainRedis } from "./restarts.js";

export const SCENARIOS: Scenario[] = [
  rateLimitIntercom,
  rateLimitZendesk,
  serverErrors,
  hangingCall,
  lateAnswer,
  retriesExhausted,
  lostAnswerIntercom,
  lostAnswerHttp,
  redisRestart,
  sigkill,
  sigtermDrain,
  sigtermDrainRedis,
  replayMemory,
  replayTwoInstances,
  timestamps,
  linkRaces,
  linkRacesTwoInstances,
  malformed,
  largeFlushMemory,
  largeFlushRedis,
  signatures,
  goneIntercom,
  goneHttpRedis,
  goneZendesk,
  continuousStream,
  unsignedWebhook,
  largeValidBatch,
  secondSigterm,
  clientAbort,
];

export const ORDER = SCENARIOS.map((s) => s.id);

/** Longest first, so they overlap with the rest when scenarios run side by side. */
export const SCHEDULE = [...SCENARIOS].sort((a, b) => b.timeoutMs - a.timeoutMs);
