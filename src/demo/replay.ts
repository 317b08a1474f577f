/**
 * `serve --demo`: replays the bundled recording into the manager at real speed, as the connector
 * would push it, looping. Each loop uses fresh session ids, so the engine's dedupe never drops a
 * replay and every loop's sessions wait, unlinked, for someone to click "Open chat".
 */
import { randomBytes } from "node:crypto";
import type { AutoplayChatbotManager } from "../manager/autoplay-chatbot-manager.js";
import type { SlimAction } from "../payloads/types.js";
import { DEMO_LOOP_SECONDS, DEMO_ORIGIN, DEMO_USERS, type RecordedUser } from "./recording.js";

/** Options of {@link startDemo}. */
export interface DemoOptions {
  manager: Pick<AutoplayChatbotManager, "onActions">;
  productId: string;
  /** Where a failed batch is reported (the bridge's logger). */
  onError?: (error: unknown, sessionId: string) => void;
  /** The recording. @default the bundled one */
  users?: readonly RecordedUser[];
  /** Seconds between loop starts. @default DEMO_LOOP_SECONDS */
  loopSeconds?: number;
  /** Session id of a user in a loop. @default `<name>-<4 random hex>` */
  sessionId?: (user: RecordedUser, loop: number) => string;
  now?: () => number;
}

/** A running replay. */
export interface RunningDemo {
  /** Loops started so far (1 once the first began). */
  readonly loops: number;
  /** Stops the replay; batches already sent are not undone. Safe twice. */
  stop(): void;
}

interface Cue {
  /** ms after the loop's start. */
  at: number;
  user: RecordedUser;
  step: number;
}

/** Starts replaying now; the first actions arrive within a second. */
export function startDemo(options: DemoOptions): RunningDemo {
  const users = options.users ?? DEMO_USERS;
  const loopMs = (options.loopSeconds ?? DEMO_LOOP_SECONDS) * 1000;
  const now = options.now ?? Date.now;
  const sessionIdOf = options.sessionId ?? ((user) => `${user.name}-${randomBytes(2).toString("hex")}`);
  const cues: Cue[] = users
    .flatMap((user) => user.steps.map((step, i) => ({ at: Math.round((user.startsAt + step[0]) * 1000), user, step: i })))
    .sort((a, b) => a.at - b.at);
  let loops = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let loopStart = 0;
  let next = 0;
  let ids = new Map<RecordedUser, string>();

  const beginLoop = () => {
    loops++;
    loopStart = now();
    next = 0;
    ids = new Map(users.map((u) => [u, sessionIdOf(u, loops)]));
  };
  const tick = () => {
    if (stopped) return;
    while (next < cues.length && (cues[next] as Cue).at <= now() - loopStart) send(cues[next++] as Cue);
    if (next >= cues.length && now() - loopStart >= loopMs) beginLoop();
    const due = next < cues.length ? loopStart + (cues[next] as Cue).at : loopStart + loopMs;
    timer = setTimeout(tick, Math.max(0, due - now()));
    timer.unref();
  };
  const send = (cue: Cue) => {
    const sessionId = ids.get(cue.user) as string;
    const payload = demoPayload(cue.user, cue.step, sessionId, options.productId, now() / 1000);
    options.manager.onActions(payload).catch((error: unknown) => options.onError?.(error, sessionId));
  };
  beginLoop();
  tick();
  return {
    get loops() {
      return loops;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The connector's push payload for one recorded step, stamped `atSeconds`. */
export function demoPayload(user: RecordedUser, step: number, sessionId: string, productId: string, atSeconds: number): Record<string, unknown> {
  const [, type, title, description, path] = user.steps[step] as RecordedUser["steps"][number];
  const action: SlimAction = {
    index: step,
    type,
    title,
    description,
    canonical_url: `${DEMO_ORIGIN}${path.split("?")[0] ?? path}`,
    raw_url: `${DEMO_ORIGIN}${path}`,
    timestamp_start: atSeconds,
    timestamp_end: atSeconds + 0.2,
  };
  return {
    type: "actions",
    product_id: productId,
    session_id: sessionId,
    user_id: user.userId,
    email: user.email,
    actions: [action],
    count: 1,
    forwarded_at: atSeconds,
  };
}
