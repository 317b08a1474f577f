/**
 * Per-session hand-over queues between the stream reader and the consumer's `onPayload`.
 *
 * The connector has no replay, so the reader must never wait on a consumer: it only enqueues.
 * Each session (lane) is handed over sequentially, in arrival order, and lanes run concurrently,
 * so one slow conversation stalls only itself. Payloads without a session id share one lane
 * (keyed `null`), sequential like any other, so they are never reordered among themselves.
 *
 * Under backpressure actions are merged before anything is dropped: a queued actions payload
 * absorbs the next ones of its session (wire indexes kept, order kept, within the merge bounds),
 * so a slow consumer gets fewer, larger payloads and loses nothing. Only what cannot be merged
 * within the bounds (summaries, a change of identity, a merged payload at its size bound, the
 * memory bound on queued actions) is dropped, oldest first, counted, and logged at a limited rate.
 */
import { mergeActionsPayloads } from "../payloads/merge.js";
import type { ActionsPayload, Payload } from "../payloads/types.js";
import { describeError } from "./errors.js";
import { LogLimiter } from "./log-limiter.js";

/** Where the lanes report; never throws (the caller wraps its logger). */
export type LaneLog = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

/** What {@link SessionLanes} needs. */
export interface SessionLanesOptions {
  readonly handler: (payload: Payload) => Promise<void>;
  /** Queued entries of one session from which its new actions are merged into the queue's tail. */
  readonly maxPerSession: number;
  /** Queued entries of all sessions from which new actions are merged; beyond it, after merging, the oldest are dropped. */
  readonly maxTotal: number;
  /** Queued actions of all sessions beyond which the oldest entries are dropped (the memory bound). @default Infinity */
  readonly maxActions?: number;
  /** Most actions in one merged payload. @default Infinity */
  readonly maxMergedActions?: number;
  /** Most estimated JSON characters in one merged payload. @default Infinity */
  readonly maxMergedChars?: number;
  readonly log: LaneLog;
  /** Rate limit of the drop, merge and handler-error lines. @default a {@link LogLimiter} of 10 s */
  readonly limiter?: LogLimiter;
}

/** One queued hand-over: a summary, or one or more actions payloads of one session merged on delivery. */
interface Entry {
  readonly lane: Lane;
  readonly parts: Payload[];
  /** Arrival order across all lanes, to find the oldest. A merged entry keeps its first part's. */
  readonly seq: number;
  actions: number;
  chars: number;
  /** The merged payload's ids: the first non-empty of its parts (as `mergeActionsPayloads` picks). */
  readonly ids: Record<IdField, string>;
  queued: boolean;
}

interface Lane {
  readonly key: string | null;
  queue: Entry[];
}

const ID_FIELDS = ["product_id", "user_id", "email", "conversation_id"] as const;
type IdField = (typeof ID_FIELDS)[number];

/** Counters the lanes keep; the stream folds them into its stats. */
export interface LaneCounters {
  /** Payloads folded into an earlier queued one of their session under backpressure (no action lost). */
  merged: number;
  /** Payloads dropped (each merged part counts): over the bounds after merging, or still queued when a stop timed out. */
  dropped: number;
  /** Actions inside the dropped payloads. */
  droppedActions: number;
  /** `onPayload` calls that threw or rejected. */
  handlerErrors: number;
}

/** The queues; see the module comment. */
export class SessionLanes {
  readonly #options: SessionLanesOptions;
  readonly #maxActions: number;
  readonly #maxMergedActions: number;
  readonly #maxMergedChars: number;
  readonly #limiter: LogLimiter;
  // A lane exists while it has queued entries or a pump running; its pump removes it.
  readonly #lanes = new Map<string | null, Lane>();
  // Lanes that gained an entry since their last compaction: the only ones a compaction can shrink.
  readonly #dirty = new Set<Lane>();
  // Every entry in arrival order, for dropping the oldest in O(1); delivered or merged ones are skipped lazily.
  #order: Entry[] = [];
  #orderHead = 0;
  #queued = 0;
  #queuedActions = 0;
  #seq = 0;
  #idleWaiters: (() => void)[] = [];
  readonly counters: LaneCounters = { merged: 0, dropped: 0, droppedActions: 0, handlerErrors: 0 };

  constructor(options: SessionLanesOptions) {
    this.#options = options;
    this.#maxActions = options.maxActions ?? Infinity;
    this.#maxMergedActions = options.maxMergedActions ?? Infinity;
    this.#maxMergedChars = options.maxMergedChars ?? Infinity;
    this.#limiter = options.limiter ?? new LogLimiter();
  }

  /** Entries waiting (a merged entry counts once), not counting those being handled. */
  get queued(): number {
    return this.#queued;
  }

  /** Actions inside the waiting entries. */
  get queuedActions(): number {
    return this.#queuedActions;
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
    const incoming = this.#entry(lane, payload);
    this.#queuedActions += incoming.actions;
    const tail = lane.queue.at(-1);
    const pressed = lane.queue.length >= this.#options.maxPerSession || this.#queued >= this.#options.maxTotal;
    if (pressed && tail !== undefined && this.#canMerge(tail, incoming)) {
      this.#fold(tail, incoming);
      this.#noteMerge(lane.key, 1);
    } else {
      lane.queue.push(incoming);
      this.#order.push(incoming);
      this.#queued++;
      if (lane.queue.length > 1) this.#dirty.add(lane);
      if (lane.queue.length > this.#options.maxPerSession) this.#compact(lane);
    }
    this.#relieve();
    if (idle) {
      this.#pump(lane).catch((error: unknown) => this.#options.log("error", "connector: session lane failed", { error: describeError(error) }));
    }
  }

  /** Resolves once nothing is queued or being handled. */
  whenIdle(): Promise<void> {
    if (this.#lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops everything still queued (handlers already running finish on their own); returns how many payloads. */
  abandon(reason: string): number {
    let dropped = 0;
    let actions = 0;
    for (const lane of this.#lanes.values()) {
      for (const entry of lane.queue) {
        entry.queued = false;
        dropped += entry.parts.length;
        actions += entry.actions;
      }
      lane.queue = [];
    }
    this.#dirty.clear();
    this.#order = [];
    this.#orderHead = 0;
    this.#queued = 0;
    this.#queuedActions = 0;
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.counters.droppedActions += actions;
      this.#options.log("error", `connector: dropped ${dropped} queued payload(s): ${reason}`, { dropped, actions });
    }
    return dropped;
  }

  async #pump(lane: Lane): Promise<void> {
    // Start on a later tick: a handler must never run inside the reader's push().
    await Promise.resolve();
    for (let entry = lane.queue.shift(); entry !== undefined; entry = lane.queue.shift()) {
      entry.queued = false;
      this.#queued--;
      this.#queuedActions -= entry.actions;
      await this.#deliver(materialize(entry.parts));
    }
    this.#lanes.delete(lane.key);
    this.#dirty.delete(lane);
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
      const suppressed = this.#limiter.take("handler");
      if (suppressed === undefined) return;
      this.#options.log("error", "connector: onPayload failed; payload skipped", {
        sessionId: payload.session_id,
        error: describeError(error),
        handlerErrors: this.counters.handlerErrors,
        ...(suppressed > 0 ? { suppressed } : {}),
      });
    }
  }

  #entry(lane: Lane, payload: Payload): Entry {
    const ids = {} as Record<IdField, string>;
    const fields = payload as unknown as Partial<Record<IdField, string | null>>;
    for (const field of ID_FIELDS) ids[field] = fields[field] ?? "";
    const actions = payload.type === "actions" ? payload.actions.length : 0;
    return { lane, parts: [payload], seq: this.#seq++, actions, chars: estimateChars(payload), ids, queued: true };
  }

  /** Whether `next` can join `into` as one actions payload: same identity, within the merge bounds. */
  #canMerge(into: Entry, next: Entry): boolean {
    if (into.parts[0]?.type !== "actions" || next.parts[0]?.type !== "actions") return false;
    if (into.actions + next.actions > this.#maxMergedActions || into.chars + next.chars > this.#maxMergedChars) return false;
    // A merged payload has one user, e-mail and conversation: a change must reach the handler as sent.
    return ID_FIELDS.every((field) => !into.ids[field] || !next.ids[field] || into.ids[field] === next.ids[field]);
  }

  #fold(into: Entry, next: Entry): void {
    into.parts.push(...next.parts);
    into.actions += next.actions;
    into.chars += next.chars;
    for (const field of ID_FIELDS) into.ids[field] ||= next.ids[field];
    next.queued = false;
  }

  /**
   * Merges each run of consecutive mergeable entries of a lane into one. Summaries stay where
   * they are: moving actions across one would change what it condenses.
   */
  #compact(lane: Lane): void {
    this.#dirty.delete(lane);
    const out: Entry[] = [];
    for (const entry of lane.queue) {
      const last = out.at(-1);
      if (last !== undefined && this.#canMerge(last, entry)) this.#fold(last, entry);
      else out.push(entry);
    }
    const folded = lane.queue.length - out.length;
    lane.queue = out;
    this.#queued -= folded;
    this.#noteMerge(lane.key, folded);
  }

  /** Merges, then drops the oldest, until the queue is within its bounds. */
  #relieve(): void {
    if (this.#queued > this.#options.maxTotal) {
      for (const lane of this.#dirty) {
        this.#compact(lane);
        if (this.#queued <= this.#options.maxTotal) break;
      }
    }
    while ((this.#queued > this.#options.maxTotal || this.#queuedActions > this.#maxActions) && this.#dropOldest());
  }

  #noteMerge(sessionId: string | null, folded: number): void {
    if (folded <= 0) return;
    this.counters.merged += folded;
    const suppressed = this.#limiter.take("merge");
    if (suppressed === undefined) return;
    this.#options.log("warn", "connector: consumer is slow; merging queued actions payloads", {
      sessionId,
      merged: this.counters.merged,
      queued: this.#queued,
      ...(suppressed > 0 ? { suppressed } : {}),
    });
  }

  #dropOldest(): boolean {
    const entry = this.#takeOldest();
    if (entry === undefined) return false;
    const lane = entry.lane;
    // The oldest queued entry is its lane's head: lanes are in arrival order, merges keep the first seq.
    const at = lane.queue[0] === entry ? 0 : lane.queue.indexOf(entry);
    lane.queue.splice(at, 1);
    entry.queued = false;
    this.#queued--;
    this.#queuedActions -= entry.actions;
    this.counters.dropped += entry.parts.length;
    this.counters.droppedActions += entry.actions;
    const suppressed = this.#limiter.take("drop");
    if (suppressed !== undefined) {
      this.#options.log("error", "connector: queue full; dropped the oldest queued payload", {
        sessionId: lane.key,
        type: entry.parts[0]?.type,
        payloads: entry.parts.length,
        actions: entry.actions,
        dropped: this.counters.dropped,
        droppedActions: this.counters.droppedActions,
        ...(suppressed > 0 ? { suppressed } : {}),
      });
    }
    return true;
  }

  #takeOldest(): Entry | undefined {
    while (this.#orderHead < this.#order.length) {
      const entry = this.#order[this.#orderHead++]!;
      if (this.#orderHead > 1024 && this.#orderHead * 2 > this.#order.length) {
        this.#order = this.#order.slice(this.#orderHead);
        this.#orderHead = 0;
      }
      if (entry.queued) return entry;
    }
    return undefined;
  }
}

/** One payload for the handler: a single part as it came, or the parts merged in order. */
function materialize(parts: readonly Payload[]): Payload {
  const [first] = parts;
  if (parts.length === 1 && first !== undefined) return first;
  const list = parts as readonly ActionsPayload[];
  const merged = mergeActionsPayloads(list, { reindex: false });
  // The parser's own action objects rather than copies: whatever it knows about them (e.g.
  // `wasDefaulted`) travels on. Their wire indexes are kept either way.
  merged.actions = list.flatMap((p) => p.actions);
  return merged;
}

/** A cheap estimate of a payload's JSON size, in characters, for the merge bound. */
function estimateChars(payload: Payload): number {
  if (payload.type !== "actions") return payload.summary.length + 200;
  let chars = 200;
  for (const a of payload.actions) {
    chars += 150 + a.type.length + a.title.length + a.description.length + a.canonical_url.length + a.raw_url.length;
  }
  return chars;
}
