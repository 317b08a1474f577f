import { WriterClosedError } from "../errors.js";
import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import type { DeliveryEngine, DeliveryHost, RedriveOutcome, SummaryOutcome, SummaryRequest, WriteOutcome } from "./delivery-engine.js";
import type { CloseSummary, DeadLetter } from "./events.js";
import { selectRedrive } from "./memory-dead-letters.js";
import type { MemoryEngineState } from "./memory-engine-state.js";
import { admit, link, trimPrelink } from "./memory-intake.js";
import { abandon, addPending, makeDue, pump } from "./memory-posting-queue.js";
import { coverageRanges, queueSummary } from "./memory-summaries.js";
import { RedactionLane } from "./redaction-lane.js";
import { isBusy, newSessionDelivery, owedActions, owedSummaries, type SessionDelivery } from "./session-delivery.js";
import { resolvesWithin, startHousekeeping, TimerOwner } from "./timers.js";

const NOTHING: WriteOutcome = Object.freeze({ accepted: 0, duplicates: 0, trimmed: 0 });

/**
 * The in-process delivery engine (the default): buffers, debounce timers, part ids, dedupe ids
 * and dead letters live in this process's memory and are lost with it. The policy, shared with
 * the Redis engine, is described in docs/delivery-policy.md.
 *
 * This class holds the sessions and the public API; the policy's steps live beside it:
 * intake (dedupe, pre-link window, link/unlink) in memory-intake.ts, the per-session posting
 * queue in memory-posting-queue.ts, summaries in memory-summaries.ts, dead letters and redrive
 * in memory-dead-letters.ts; what they share is {@link MemoryEngineState}.
 */
export class MemoryDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #engine: MemoryEngineState;
  readonly #sessions = new Map<string, SessionDelivery>();
  #idleWaiters: Array<() => void> = [];
  #sweepTimer: NodeJS.Timeout | undefined;
  /**
   * Highest action sequence number issued to any session: a session (re)created after its
   * bookkeeping expired numbers its actions from here, so a number is never reused for a session.
   */
  #sequenceFloor = 0;

  constructor(host: DeliveryHost) {
    this.#host = host;
    const timers = new TimerOwner(
      (error) => host.log("error", "internal error in a delivery timer", { error: String(error) }),
      () => this.#checkIdle(),
    );
    const redactions = new RedactionLane(host, timers, {
      begin: () => this.#engine.inFlight++,
      end: () => {
        this.#engine.inFlight--;
        this.#checkIdle();
      },
      abandoning: () => this.#engine.abandoning,
    });
    const dead = new DeadLetterStore(host.options.maxDeadLetters, host.options.maxDeadLetterBytes);
    this.#engine = { host, timers, dead, redactions, inFlight: 0, closing: false, abandoning: false, checkIdle: () => this.#checkIdle() };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get inFlight(): number {
    return this.#engine.inFlight;
  }

  get deadLetterCount(): number {
    return this.#engine.dead.size;
  }

  writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    const engine = this.#engine;
    if (engine.closing) return Promise.reject(new WriterClosedError());
    if (actions.length === 0) return Promise.resolve(NOTHING);
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    const { fresh, duplicates } = admit(engine, s, actions, now);
    // Numbers for the summary overwrite step: one counter per session, no allocation per action.
    const firstSeq = s.sequence + 1;
    s.sequence += fresh.length;
    if (s.sequence > this.#sequenceFloor) this.#sequenceFloor = s.sequence;
    // A write makes only the first link; re-linking is onSessionLinked's (a caller holding an
    // older session state must not move the session back), and a gone conversation stays gone.
    if (s.conversationId === null && conversationId !== null && conversationId !== s.goneConversation) {
      link(engine, s, conversationId, now);
      pump(engine, s);
    }
    if (s.conversationId !== null) {
      if (fresh.length > 0) addPending(engine, s, fresh, firstSeq, now);
      return Promise.resolve({ accepted: fresh.length, duplicates, trimmed: 0, newActions: fresh, lastSequence: s.sequence, conversationId: s.conversationId });
    }
    const prelink = (s.prelink ??= new ActionBuffer());
    prelink.append(fresh, now / 1000, firstSeq);
    const trimmed = trimPrelink(engine, s, now);
    return Promise.resolve({ accepted: fresh.length, duplicates, trimmed, newActions: fresh, lastSequence: s.sequence, conversationId: null });
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#engine.closing) throw new WriterClosedError();
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    if (s.conversationId === conversationId) return;
    if (s.conversationId === null) {
      link(this.#engine, s, conversationId, now);
      pump(this.#engine, s);
      return;
    }
    // A re-link: whatever is still owed, a note waiting for its retry included, goes to the new one.
    s.conversationId = conversationId;
    this.#host.events.emit("linked", { sessionId, conversationId, bufferedActions: 0 });
    pump(this.#engine, s);
  }

  async flush(): Promise<void> {
    // Wait for what is owed now, not for actions that keep arriving: a continuous stream would
    // otherwise keep a flush pending forever.
    const owed: Array<[SessionDelivery, number, number]> = [];
    for (const s of this.#sessions.values()) {
      const count = owedActions(s);
      const summaries = owedSummaries(s);
      if (count > 0 || summaries > 0) owed.push([s, s.settledActions + count, s.settledSummaries + summaries]);
      makeDue(this.#engine, s);
    }
    this.#checkIdle();
    await Promise.all(
      owed.map(async ([s, target, summaries]) => {
        // A note waiting for its retry is not posting: its attempt has settled, so flush stops there.
        while ((s.settledActions < target || s.settledSummaries < summaries) && s.posting !== null) await s.posting;
      }),
    );
  }

  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async getPartIds(sessionId: string): Promise<string[]> {
    return [...(this.#sessions.get(sessionId)?.records?.partIds ?? [])];
  }

  async takePartIds(sessionId: string): Promise<string[]> {
    const s = this.#sessions.get(sessionId);
    const ids = [...(s?.records?.partIds ?? [])];
    if (s) s.records = null;
    return ids;
  }

  async summarize(request: SummaryRequest): Promise<SummaryOutcome> {
    if (this.#engine.closing) throw new WriterClosedError();
    const s = this.#sessions.get(request.sessionId);
    const conversationId = s?.conversationId ?? null;
    if (s === undefined || conversationId === null) {
      this.#host.stats.summariesSkipped++;
      this.#host.log("info", "summary of a session without a conversation; not posted", { sessionId: request.sessionId });
      return { status: "unlinked", conversationId: null, snapshot: 0, key: "" };
    }
    s.lastActivityAt = this.#host.options.now();
    const ranges = coverageRanges(request.coverage, s.sequence);
    // The snapshot is taken now: a note delivered from here on is never part of it.
    const snapshot = s.records?.takeCovered(conversationId, ranges) ?? [];
    const note = queueSummary(s, request.body, snapshot);
    pump(this.#engine, s);
    return { status: "queued", conversationId, snapshot: snapshot.length, key: note.key };
  }

  async linkedConversation(sessionId: string): Promise<string | null> {
    return this.#sessions.get(sessionId)?.conversationId ?? null;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.#engine.dead.list();
  }

  async takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#engine.dead.take();
  }

  async redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome> {
    if (this.#engine.closing) throw new WriterClosedError();
    // Only a session whose conversation this process knows can take them now; the rest stay.
    const { outcome, chosen } = selectRedrive(this.#engine.dead.list(), ids, (sid) => this.#sessions.get(sid)?.conversationId != null);
    const now = this.#host.options.now();
    for (const letter of this.#engine.dead.take(chosen)) {
      const s = this.#session(letter.sessionId, now);
      if (letter.kind === "summary") {
        // Posted again, with nothing to redact.
        queueSummary(s, letter.body, []);
        pump(this.#engine, s);
        outcome.requeued++;
        continue;
      }
      // Straight into the pending note, past dedupe: these actions were accepted once already.
      (s.pending ??= new ActionBuffer()).append(letter.actions, now / 1000);
      s.due = true;
      outcome.requeued++;
      outcome.actions += letter.actions.length;
      pump(this.#engine, s);
    }
    return outcome;
  }

  pruneIdleSessions(): number {
    const { now: clock, sessionIdleTtlMs } = this.#host.options;
    const now = clock();
    let removed = 0;
    let expiredActions = 0;
    for (const [id, s] of this.#sessions) {
      if (isBusy(s)) continue;
      if (s.prelink !== null) {
        trimPrelink(this.#engine, s, now);
        if (s.prelink.length === 0) s.prelink = null;
      }
      const holdsSomething = s.conversationId !== null || s.prelink !== null;
      if (holdsSomething && now - s.lastActivityAt < sessionIdleTtlMs) continue;
      expiredActions += s.prelink?.length ?? 0;
      this.#sessions.delete(id);
      removed++;
    }
    if (expiredActions > 0) {
      this.#host.stats.actionsExpired += expiredActions;
      this.#host.log("warn", "pre-link actions expired with sessions that were never linked", { actions: expiredActions });
    }
    if (this.#sessions.size === 0) this.#stopSweep();
    return removed;
  }

  async close(): Promise<CloseSummary> {
    const engine = this.#engine;
    engine.closing = true;
    this.#stopSweep();
    const deadLetteredBefore = this.#host.stats.deadLettered;
    for (const s of this.#sessions.values()) makeDue(engine, s);
    let unconfirmed = 0;
    if (!(await resolvesWithin(this.onIdle(), this.#host.options.closeTimeoutMs))) {
      // The bound is reached: nothing more is awaited. What is owed goes to the dead letter;
      // a call still unsettled may have landed, which its letter says.
      engine.abandoning = true;
      for (const s of this.#sessions.values()) {
        engine.timers.clearAll(s.timers);
        unconfirmed += abandon(engine, s);
        engine.redactions.abandon(s);
      }
    }
    const summary: CloseSummary = {
      deadLettered: this.#host.stats.deadLettered - deadLetteredBefore,
      unconfirmed,
      leftInRedis: 0,
      unlinkedActions: 0,
      unlinkedSessions: 0,
    };
    for (const s of this.#sessions.values()) {
      if (s.prelink === null || s.prelink.length === 0) continue;
      summary.unlinkedSessions++;
      summary.unlinkedActions += s.prelink.length;
    }
    return summary;
  }

  #session(sessionId: string, now: number): SessionDelivery {
    let s = this.#sessions.get(sessionId);
    if (s === undefined) {
      s = newSessionDelivery(sessionId, now, this.#sequenceFloor);
      this.#sessions.set(sessionId, s);
      this.#sweepTimer ??= startHousekeeping(
        this.#host.options.sweepIntervalMs,
        () => this.pruneIdleSessions(),
        (e) => this.#host.log("error", "idle sweep failed", { error: String(e) }),
      );
    } else {
      s.lastActivityAt = now;
    }
    return s;
  }

  #isIdle(): boolean {
    return this.#engine.inFlight === 0 && this.#engine.timers.active === 0;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #stopSweep(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}

/** The default engine factory. */
export const memoryDelivery = (host: DeliveryHost): DeliveryEngine => new MemoryDelivery(host);
