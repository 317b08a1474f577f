/**
 * Per-session hand-over queues between the stream reader and the consumer's `onPayload`.
 *
 * The connector has no replay, so the reader must never wait on a consumer: it only enqueues.
 * Each session (lane) is handed over sequentially, in arrival order, and lanes run concurrently,
 * so one slow conversation stalls only itself. Payloads without a session id share one lane
 * (keyed `null`), sequential like any other, so they are never reordered among themselves.
 */
import { mergeActionsPayloads } from "../payloads/merge.js";
import type { ActionsPayload, Payload } from "../payloads/types.js";
import { describeError } from "./errors.js";

/** Where the lanes report; never throws (the caller wraps its logger). */
export type LaneLog = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

/** What {@link SessionLanes} needs. */
export interface SessionLanesOptions {
  readonly handler: (payload: Payload) => Promise<void>;
  /** Queued payloads of one session before its actions are merged. */
  readonly maxPerSession: number;
  /** Queued payloads of all sessions before the oldest are dropped. */
  readonly maxTotal: number;
  readonly log: LaneLog;
}

interface Entry {
  readonly payload: Payload;
  /** Arrival order across all lanes, to find the oldest. A merged entry keeps its first part's. */
  readonly seq: number;
}

interface Lane {
  readonly key: string | null;
  queue: Entry[];
}

/** Counters the lanes keep; the stream folds them into its stats. */
export interface LaneCounters {
  /** Payloads folded into another by a merge under backpressure. */
  merged: number;
  /** Queued payloads dropped: over `maxTotal`, or still queued when a stop timed out. */
  dropped: number;
  /** `onPayload` calls that threw or rejected. */
  handlerErrors: number;
}

/** The queues; see the module comment. */
export class SessionLanes {
  readonly #options: SessionLanesOptions;
  // A lane exists while it has queued entries or a pump running; its pump removes it.
  readonly #lanes = new Map<string | null, Lane>();
  #queued = 0;
  #seq = 0;
  #idleWaiters: (() => void)[] = [];
  readonly counters: LaneCounters = { merged: 0, dropped: 0, handlerErrors: 0 };

  constructor(options: SessionLanesOptions) {
    this.#options = options;
  }

  /** Payloads waiting, not counting those being handled. */
  get queued(): number {
    return this.#queued;
  }

  /** Enqueues without waiting; the lane's pump hands it over when its turn comes. */
  push(payload: Payload): void {
    const key = payload.session_id;
    let lane = this.#lanes.get(key);
    const idle = lane === undefined;
    if (lane === undefined) {
      lane = { key, queue: [] };
      this.#lanes.set(key, lane);
    }
    lane.queue.push({ payload, seq: this.#seq++ });
    this.#queued++;
    if (lane.queue.length > this.#options.maxPerSession) this.#compact(lane);
    while (this.#queued > this.#options.maxTotal && this.#dropOldest());
    if (idle) {
      this.#pump(lane).catch((error: unknown) => this.#options.log("error", "connector: session lane failed", { error: describeError(error) }));
    }
  }

  /** Resolves once nothing is queued or being handled. */
  whenIdle(): Promise<void> {
    if (this.#lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops everything still queued (handlers already running finish on their own); returns how many. */
  abandon(reason: string): number {
    let dropped = 0;
    for (const lane of this.#lanes.values()) {
      dropped += lane.queue.length;
      lane.queue = [];
    }
    this.#queued = 0;
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.#options.log("error", `connector: dropped ${dropped} queued payload(s): ${reason}`, { dropped });
    }
    return dropped;
  }

  async #pump(lane: Lane): Promise<void> {
    // Start on a later tick: a handler must never run inside the reader's push().
    await Promise.resolve();
    for (let entry = lane.queue.shift(); entry !== undefined; entry = lane.queue.shift()) {
      this.#queued--;
      await this.#deliver(entry.payload);
    }
    this.#lanes.delete(lane.key);
    if (this.#lanes.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  async #deliver(payload: Payload): Promise<void> {
    try {
      await this.#options.handler(payload);
    } catch (error) {
      this.counters.handlerErrors++;
      this.#options.log("error", "connector: onPayload failed; payload skipped", { sessionId: payload.session_id, error: describeError(error) });
    }
  }

  /**
   * Merges each run of consecutive actions payloads into one, so nothing is lost. Summaries stay
   * where they are: moving actions across one would change what it condenses. Memory stays
   * bounded by `maxTotal` even for a lane of alternating summaries that cannot shrink.
   */
  #compact(lane: Lane): void {
    const before = lane.queue.length;
    const out: Entry[] = [];
    let run: { payload: ActionsPayload; seq: number }[] = [];
    const flush = (): void => {
      const first = run[0];
      if (first === undefined) return;
      out.push(run.length === 1 ? first : { payload: mergeActionsPayloads(run.map((e) => e.payload), { reindex: false }), seq: first.seq });
      run = [];
    };
    for (const entry of lane.queue) {
      if (entry.payload.type === "actions") {
        run.push({ payload: entry.payload, seq: entry.seq });
      } else {
        flush();
        out.push(entry);
      }
    }
    flush();
    lane.queue = out;
    const folded = before - out.length;
    this.#queued -= folded;
    this.counters.merged += folded;
    if (folded > 0) {
      this.#options.log("warn", `connector: session is slow; folded ${folded} queued payload(s) into earlier ones`, { sessionId: lane.key });
    }
  }

  #dropOldest(): boolean {
    let oldest: Lane | undefined;
    let oldestSeq = Infinity;
    // O(lanes), but only on this overload path; every lane queue is in arrival order.
    for (const lane of this.#lanes.values()) {
      const head = lane.queue[0];
      if (head !== undefined && head.seq < oldestSeq) {
        oldest = lane;
        oldestSeq = head.seq;
      }
    }
    const entry = oldest?.queue.shift();
    if (entry === undefined) return false;
    this.#queued--;
    this.counters.dropped++;
    const actions = entry.payload.type === "actions" ? entry.payload.actions.length : 0;
    this.#options.log("error", "connector: queue full; dropped the oldest queued payload", {
      sessionId: entry.payload.session_id,
      type: entry.payload.type,
      actions,
    });
    return true;
  }
}
