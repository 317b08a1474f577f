import { randomUUID } from "node:crypto";
import { WriterClosedError } from "../errors.js";
import { formatNoteColumns } from "../note/format.js";
import type { NoteAction } from "../payloads/types.js";
import { ActionBuffer } from "./action-buffer.js";
import { dedupeHashes } from "./action-identity.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import type { DeliveryEngine, DeliveryHost, RedriveOutcome, SummaryOutcome, SummaryRequest, WriteOutcome } from "./delivery-engine.js";
import type { CloseSummary, DeadLetter, DeadLetterReason, NoteKind } from "./events.js";
import { NoteRecords, SUMMARY_SEQ, type NoteRecord, type SequenceRange } from "./note-records.js";
import { mayHaveLanded } from "./outcome.js";
import { RedactionLane } from "./redaction-lane.js";
import { SeenIds } from "./seen-ids.js";
import { isBusy, newSessionDelivery, owedActions, owedSummaries, type OwedNote, type SessionDelivery } from "./session-delivery.js";
import { startHousekeeping, TimerOwner } from "./timers.js";

const NOTHING: WriteOutcome = Object.freeze({ accepted: 0, duplicates: 0, trimmed: 0 });

/**
 * The in-process delivery engine (the default): buffers, debounce timers, part ids, dedupe ids
 * and dead letters live in this process's memory and are lost with it. The policy, shared with
 * the Redis engine, is described in docs/delivery-policy.md.
 */
export class MemoryDelivery implements DeliveryEngine {
  readonly #host: DeliveryHost;
  readonly #sessions = new Map<string, SessionDelivery>();
  readonly #timers: TimerOwner;
  readonly #dead: DeadLetterStore;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #sweepTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #abandoning = false;
  /**
   * Highest action sequence number issued to any session: a session (re)created after its
   * bookkeeping expired numbers its actions from here, so a number is never reused for a session.
   */
  #sequenceFloor = 0;
  readonly #redactions: RedactionLane;

  constructor(host: DeliveryHost) {
    this.#host = host;
    this.#dead = new DeadLetterStore(host.options.maxDeadLetters, host.options.maxDeadLetterBytes);
    this.#timers = new TimerOwner(
      (error) => host.log("error", "internal error in a delivery timer", { error: String(error) }),
      () => this.#checkIdle(),
    );
    this.#redactions = new RedactionLane(host, this.#timers, {
      begin: () => this.#inFlight++,
      end: () => {
        this.#inFlight--;
        this.#checkIdle();
      },
      abandoning: () => this.#abandoning,
    });
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get deadLetterCount(): number {
    return this.#dead.size;
  }

  writeActions(conversationId: string | null, sessionId: string, actions: readonly NoteAction[]): Promise<WriteOutcome> {
    if (this.#closing) return Promise.reject(new WriterClosedError());
    if (actions.length === 0) return Promise.resolve(NOTHING);
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    const { fresh, duplicates } = this.#admit(s, actions, now);
    // Numbers for the summary overwrite step: one counter per session, no allocation per action.
    const firstSeq = s.sequence + 1;
    s.sequence += fresh.length;
    if (s.sequence > this.#sequenceFloor) this.#sequenceFloor = s.sequence;
    // A write makes only the first link; re-linking is onSessionLinked's (a caller holding an
    // older session state must not move the session back), and a gone conversation stays gone.
    if (s.conversationId === null && conversationId !== null && conversationId !== s.goneConversation) this.#link(s, conversationId, now);
    if (s.conversationId !== null) {
      if (fresh.length > 0) this.#addPending(s, fresh, firstSeq);
      return Promise.resolve({ accepted: fresh.length, duplicates, trimmed: 0, newActions: fresh, lastSequence: s.sequence });
    }
    const prelink = (s.prelink ??= new ActionBuffer());
    prelink.append(fresh, now / 1000, firstSeq);
    const trimmed = this.#trimPrelink(s, now);
    return Promise.resolve({ accepted: fresh.length, duplicates, trimmed, newActions: fresh, lastSequence: s.sequence });
  }

  async onSessionLinked(sessionId: string, conversationId: string): Promise<void> {
    if (this.#closing) throw new WriterClosedError();
    const now = this.#host.options.now();
    const s = this.#session(sessionId, now);
    if (s.conversationId === conversationId) return;
    if (s.conversationId === null) {
      this.#link(s, conversationId, now);
      return;
    }
    // A re-link: whatever is still owed, a note waiting for its retry included, goes to the new one.
    s.conversationId = conversationId;
    this.#host.events.emit("linked", { sessionId, conversationId, bufferedActions: 0 });
    this.#pump(s);
  }

  async flush(): Promise<void> {
    // Wait for what is owed now, not for actions that keep arriving: a continuous stream would
    // otherwise keep a flush pending forever.
    const owed: Array<[SessionDelivery, number, number]> = [];
    for (const s of this.#sessions.values()) {
      const count = owedActions(s);
      const summaries = owedSummaries(s);
      if (count > 0 || summaries > 0) owed.push([s, s.settledActions + count, s.settledSummaries + summaries]);
      this.#makeDue(s);
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
    if (this.#closing) throw new WriterClosedError();
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
    const note = this.#newNote("summary", new ActionBuffer());
    note.frozen = true; // its body is fixed: a retry absorbs nothing
    note.body = request.body;
    note.summary = { after: s.settledActions + owedActions(s), snapshot };
    (s.summaries ??= []).push(note);
    this.#pump(s);
    return { status: "queued", conversationId, snapshot: snapshot.length, key: note.key };
  }

  async linkedConversation(sessionId: string): Promise<string | null> {
    return this.#sessions.get(sessionId)?.conversationId ?? null;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.#dead.list();
  }

  async takeDeadLetters(): Promise<DeadLetter[]> {
    return this.#dead.take();
  }

  async redriveDeadLetters(ids?: readonly string[]): Promise<RedriveOutcome> {
    if (this.#closing) throw new WriterClosedError();
    const wanted = ids === undefined ? undefined : new Set(ids);
    const outcome: RedriveOutcome = { requeued: 0, actions: 0, missing: [], skipped: [] };
    const chosen: string[] = [];
    for (const letter of this.#dead.list()) {
      if (wanted !== undefined && !wanted.has(letter.id)) continue;
      wanted?.delete(letter.id);
      // Only a session whose conversation this process knows can take them now; the rest stay.
      if (this.#sessions.get(letter.sessionId)?.conversationId == null) outcome.skipped.push(letter.id);
      else chosen.push(letter.id);
    }
    if (wanted !== undefined) outcome.missing.push(...wanted);
    const now = this.#host.options.now();
    for (const letter of this.#dead.take(chosen)) {
      const s = this.#session(letter.sessionId, now);
      if (letter.kind === "summary") {
        this.#requeueSummary(s, letter.body);
        outcome.requeued++;
        continue;
      }
      // Straight into the pending note, past dedupe: these actions were accepted once already.
      (s.pending ??= new ActionBuffer()).append(letter.actions, now / 1000);
      s.due = true;
      outcome.requeued++;
      outcome.actions += letter.actions.length;
      this.#pump(s);
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
        this.#trimPrelink(s, now);
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
    this.#closing = true;
    this.#stopSweep();
    const deadLetteredBefore = this.#host.stats.deadLettered;
    for (const s of this.#sessions.values()) this.#makeDue(s);
    let unconfirmed = 0;
    if (!(await this.#idleWithin(this.#host.options.closeTimeoutMs))) {
      // The bound is reached: nothing more is awaited. What is owed goes to the dead letter;
      // a call still unsettled may have landed, which its letter says.
      this.#abandoning = true;
      for (const s of this.#sessions.values()) {
        this.#timers.clearAll(s.timers);
        unconfirmed += this.#abandon(s);
        this.#redactions.abandon(s);
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

  /** Drops actions this session accepted before (a replay); counts and reports them. */
  #admit(s: SessionDelivery, actions: readonly NoteAction[], now: number): { fresh: readonly NoteAction[]; duplicates: number } {
    const { dedupeWindowMs, maxDedupeIds } = this.#host.options;
    if (dedupeWindowMs === 0 || maxDedupeIds === 0) return { fresh: actions, duplicates: 0 };
    const isNew = (s.seen ??= new SeenIds()).admit(dedupeHashes(actions), now, dedupeWindowMs, maxDedupeIds);
    if (isNew === null) return { fresh: actions, duplicates: 0 };
    const fresh: NoteAction[] = [];
    let duplicates = 0;
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i] as NoteAction;
      if (action === null || typeof action !== "object") continue;
      if (isNew[i] === true) fresh.push(action);
      else duplicates++;
    }
    if (duplicates > 0) {
      this.#host.stats.actionsDuplicate += duplicates;
      this.#host.events.emit("duplicates", { sessionId: s.sessionId, count: duplicates });
    }
    return { fresh, duplicates };
  }

  /** Trims the pre-link buffer to the window; counts and reports what fell out. */
  #trimPrelink(s: SessionDelivery, now: number): number {
    if (s.prelink === null) return 0;
    const trimmed = s.prelink.trimOlderThan((now - this.#host.options.preLinkWindowMs) / 1000);
    if (trimmed > 0) {
      this.#host.stats.actionsTrimmed += trimmed;
      this.#host.log("debug", "pre-link actions older than the window were dropped", { sessionId: s.sessionId, actions: trimmed });
    }
    return trimmed;
  }

  /** The first link: the pre-link window becomes the flush note. */
  #link(s: SessionDelivery, conversationId: string, now: number): void {
    s.conversationId = conversationId;
    s.goneConversation = null;
    // The flush note carries the window before the link, even if the last arrival was long ago.
    this.#trimPrelink(s, now);
    const buffered = s.prelink?.length ?? 0;
    if (buffered > 0) s.flush = s.prelink;
    s.prelink = null;
    this.#host.events.emit("linked", { sessionId: s.sessionId, conversationId, bufferedActions: buffered });
    this.#pump(s);
  }

  /** The conversation is gone: the session goes back to pre-link buffering with what it still owes. */
  #unlink(s: SessionDelivery, conversationId: string, error: unknown): void {
    if (s.conversationId !== conversationId) return; // re-linked meanwhile: nothing to undo
    s.conversationId = null;
    s.goneConversation = conversationId;
    this.#timers.clear(s.timers, "debounce");
    this.#timers.clear(s.timers, "maxWait");
    const prelink = new ActionBuffer();
    if (s.flush !== null) prelink.appendBuffer(s.flush);
    if (s.pending !== null) prelink.appendBuffer(s.pending);
    s.flush = null;
    s.pending = null;
    s.due = false;
    s.prelink = prelink;
    this.#trimPrelink(s, this.#host.options.now());
    for (const summary of s.summaries?.splice(0) ?? []) this.#deadLetter(s, summary, conversationId, "conversation_gone", error);
    s.summaries = null;
    this.#host.stats.unlinked++;
    const message = error instanceof Error ? error.message : String(error);
    this.#host.log("warn", "conversation gone; session unlinked, its actions wait for a new link", {
      sessionId: s.sessionId, conversationId, bufferedActions: prelink.length, error: message,
    });
    this.#host.events.emit("unlinked", {
      sessionId: s.sessionId, conversationId, reason: "conversation_gone", error: message, bufferedActions: prelink.length,
    });
  }

  #addPending(s: SessionDelivery, actions: readonly NoteAction[], firstSeq: number): void {
    (s.pending ??= new ActionBuffer()).append(actions, this.#host.options.now() / 1000, firstSeq);
    if (this.#timers.refresh(s.timers, "debounce")) return;
    const onDue = () => this.#makeDue(s);
    this.#timers.start(s.timers, "debounce", this.#host.options.postLinkDebounceMs, onDue);
    this.#timers.ensure(s.timers, "maxWait", this.#host.options.maxWaitMs, onDue);
  }

  /** The session's debounce (or max-wait) ended, or a flush/close asks for its note now. */
  #makeDue(s: SessionDelivery): void {
    this.#timers.clear(s.timers, "debounce");
    this.#timers.clear(s.timers, "maxWait");
    if (s.pending !== null && s.pending.length > 0) s.due = true;
    this.#pump(s);
  }

  /** Starts the session's next post when nothing blocks it. One post per session at a time. */
  #pump(s: SessionDelivery): void {
    if (s.posting !== null || s.timers.retry !== undefined || s.conversationId === null) return;
    if (this.#abandoning) {
      this.#abandon(s);
      return;
    }
    let note = s.note;
    if (note !== null) {
      if (!note.frozen) this.#absorb(s, note);
    } else if (s.flush !== null && s.flush.length > 0) {
      note = this.#newNote("flush", this.#take(s.flush));
      if (s.flush.length === 0) s.flush = null;
    } else if (s.summaries !== null && s.settledActions >= (s.summaries[0]?.summary?.after ?? 0)) {
      // What the session owed when the summary was queued has settled: the summary goes next.
      note = s.summaries.shift() as OwedNote;
      if (s.summaries.length === 0) s.summaries = null;
    } else if (s.pending !== null && s.pending.length > 0 && (s.due || this.#closing)) {
      note = this.#newNote("debounced", this.#take(s.pending));
      s.due = s.pending.length > 0;
    } else {
      return;
    }
    s.note = note;
    this.#inFlight++;
    s.posting = this.#deliver(s, note, s.conversationId);
  }

  #newNote(kind: NoteKind, batch: ActionBuffer): OwedNote {
    return { kind, batch, key: randomUUID(), frozen: false, body: null, failedAttempts: 0, firstTriedAt: 0, abandoned: false };
  }

  #take(source: ActionBuffer): ActionBuffer {
    return source.takeNote(this.#host.options.maxNoteActions, this.#host.options.maxNoteChars);
  }

  /**
   * A note the platform refused (it answered) may carry newer actions on its retry, up to the
   * note limits; it is then a different note, with a new key.
   */
  #absorb(s: SessionDelivery, note: OwedNote): void {
    const source = note.kind === "flush" ? s.flush : s.pending;
    const { maxNoteActions, maxNoteChars } = this.#host.options;
    const room = maxNoteActions - note.batch.length;
    const chars = note.batch.descriptions.reduce((sum, d) => sum + d.length + 8, 0);
    if (source === null || source.length === 0 || room <= 0 || chars >= maxNoteChars) return;
    const merged = new ActionBuffer();
    merged.appendBuffer(note.batch);
    merged.appendBuffer(source.takeNote(room, maxNoteChars - chars));
    note.batch = merged.takeNote(Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY); // sorted by time
    note.key = randomUUID();
    note.body = null;
    if (note.kind === "flush" && source.length === 0) s.flush = null;
    if (note.kind === "debounced" && source.length === 0) {
      s.due = false;
      this.#timers.clear(s.timers, "debounce");
      this.#timers.clear(s.timers, "maxWait");
    }
  }

  async #deliver(s: SessionDelivery, note: OwedNote, conversationId: string): Promise<void> {
    const o = this.#host.options;
    const attempt = note.failedAttempts + 1;
    const started = o.now();
    if (note.firstTriedAt === 0) note.firstTriedAt = started;
    const body = note.frozen && note.body !== null ? note.body : this.#format(s, note.kind, note.batch);
    note.body = body;
    try {
      const partId = await this.#host.post({ conversationId, body, sessionId: s.sessionId, attempt, idempotencyKey: note.key });
      if (note.abandoned) {
        this.#host.log("warn", "a call given up at close landed after all; its dead letter is a duplicate", { sessionId: s.sessionId, conversationId });
        return;
      }
      s.note = null;
      if (note.summary !== undefined) {
        this.#onSummaryDelivered(s, note, conversationId, partId, attempt);
        return;
      }
      s.settledActions += note.batch.length;
      if (partId !== null) {
        const [lo, hi] = note.batch.seqRange();
        (s.records ??= new NoteRecords()).add(partId, conversationId, lo, hi);
      }
      this.#host.stats.notesPosted++;
      this.#host.stats.actionsDelivered += note.batch.length;
      if (this.#host.events.has("delivered")) {
        const durationMs = o.now() - started;
        this.#host.events.emit("delivered", { sessionId: s.sessionId, conversationId, partId, kind: note.kind, actionCount: note.batch.length, attempt, durationMs });
      }
    } catch (error) {
      if (!note.abandoned) this.#onPostFailed(s, note, conversationId, error);
    } finally {
      s.posting = null;
      s.lastActivityAt = o.now();
      this.#inFlight--;
      if (!note.abandoned) this.#pump(s);
      this.#checkIdle();
    }
  }

  /** The summary is confirmed: now, and only now, its snapshot is redacted (in its conversation). */
  #onSummaryDelivered(s: SessionDelivery, note: OwedNote, conversationId: string, partId: string | null, attempt: number): void {
    s.settledSummaries++;
    // The summary's own id is recorded like any note's, but no summary can cover it.
    if (partId !== null) (s.records ??= new NoteRecords()).add(partId, conversationId, SUMMARY_SEQ, SUMMARY_SEQ);
    const snapshot = note.summary?.snapshot ?? [];
    // Re-linked meanwhile: notes of the old conversation stay (this summary is not there).
    const here = snapshot.filter((r) => r.conversationId === conversationId);
    if (here.length < snapshot.length) s.records?.restore(snapshot.filter((r) => r.conversationId !== conversationId));
    this.#host.stats.summariesPosted++;
    this.#host.events.emit("summary-delivered", { sessionId: s.sessionId, conversationId, partId, redactions: here.length, attempt });
    this.#redactions.enqueue(s, here);
  }

  /** A dead letter of a summary, re-driven: posted again, with nothing to redact. */
  #requeueSummary(s: SessionDelivery, body: string): void {
    const note = this.#newNote("summary", new ActionBuffer());
    note.frozen = true;
    note.body = body;
    note.summary = { after: s.settledActions + owedActions(s), snapshot: [] };
    (s.summaries ??= []).push(note);
    this.#pump(s);
  }

  #onPostFailed(s: SessionDelivery, note: OwedNote, conversationId: string, error: unknown): void {
    const decision = this.#abandoning
      ? ({ kind: "give-up", reason: "shutdown" } as const)
      : this.#host.decide(error, note.failedAttempts + 1, note.firstTriedAt);
    // A hold the writer put on itself (throttling) is not a failure and spends no retry budget.
    if (decision.kind === "give-up" || decision.counted) {
      note.failedAttempts++;
      this.#host.stats.postFailures++;
    } else {
      this.#host.stats.throttled++;
    }
    if (decision.kind === "give-up") {
      s.note = null;
      this.#deadLetter(s, note, conversationId, decision.reason, error);
      if (decision.reason === "conversation_gone") this.#unlink(s, conversationId, error);
      return;
    }
    // The note stays at the head of the session's queue: order holds. A call that may have
    // landed freezes it, so its retry is the same note under the same key.
    if (mayHaveLanded(error)) note.frozen = true;
    if (decision.counted) this.#host.stats.retries++;
    this.#timers.start(s.timers, "retry", decision.delayMs, () => this.#pump(s));
    this.#host.events.emit("retrying", {
      sessionId: s.sessionId, conversationId, kind: note.kind, attempt: note.failedAttempts, delayMs: decision.delayMs, error,
    });
  }

  #deadLetter(s: SessionDelivery, note: OwedNote, conversationId: string, reason: DeadLetterReason, error: unknown): void {
    const letter: DeadLetter = {
      id: randomUUID(),
      sessionId: s.sessionId,
      conversationId,
      reason,
      error: error instanceof Error ? error.message : String(error),
      attempts: note.failedAttempts,
      kind: note.kind,
      actions: note.batch.toActions(),
      body: note.body ?? this.#format(s, note.kind, note.batch),
      at: this.#host.options.now(),
    };
    this.#host.stats.deadLettersEvicted += this.#dead.add(letter);
    this.#host.reportDeadLetter(letter);
    s.settledActions += note.batch.length;
    if (note.summary !== undefined) this.#onSummaryFailed(s, note.summary.snapshot, letter);
  }

  /** A summary that was never confirmed redacts nothing: its snapshot can be covered by a later one. */
  #onSummaryFailed(s: SessionDelivery, snapshot: readonly NoteRecord[], letter: DeadLetter): void {
    s.settledSummaries++;
    if (snapshot.length > 0) (s.records ??= new NoteRecords()).restore(snapshot);
    this.#host.stats.summariesFailed++;
    this.#host.events.emit("summary-failed", {
      sessionId: s.sessionId, conversationId: letter.conversationId, reason: letter.reason, error: letter.error, snapshot: snapshot.length,
    });
  }

  /** After the close bound: everything the session owes goes to the dead letter. Returns unconfirmed notes. */
  #abandon(s: SessionDelivery): number {
    let unconfirmed = 0;
    const conversationId = s.conversationId ?? s.goneConversation ?? "";
    if (s.note !== null) {
      const note = s.note;
      s.note = null;
      if (s.posting !== null) {
        note.abandoned = true;
        unconfirmed++;
        this.#deadLetter(s, note, conversationId, "shutdown", "close() gave up waiting for the platform call at closeTimeoutMs; it may have been delivered");
      } else {
        this.#deadLetter(s, note, conversationId, "shutdown", "close() timed out before delivery");
      }
    }
    for (const summary of s.summaries?.splice(0) ?? []) this.#deadLetter(s, summary, conversationId, "shutdown", "close() timed out before delivery");
    s.summaries = null;
    for (const kind of ["flush", "debounced"] as const) {
      const source = kind === "flush" ? s.flush : s.pending;
      if (source === null || source.length === 0) continue;
      const batch = new ActionBuffer();
      batch.appendBuffer(source);
      this.#deadLetter(s, this.#newNote(kind, batch), conversationId, "shutdown", "close() timed out before delivery");
    }
    s.flush = null;
    s.pending = null;
    s.due = false;
    return unconfirmed;
  }

  #format(s: SessionDelivery, kind: NoteKind, batch: ActionBuffer): string {
    const binSeconds = kind === "flush" ? this.#host.options.binSeconds : 0;
    return formatNoteColumns(s.sessionId, batch.descriptions, batch.starts, binSeconds, this.#host.options.now() / 1000);
  }

  async #idleWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.onIdle().then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#timers.active === 0;
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

/** A summary's coverage as sequence ranges; `latestActions` counts back from the session's last accepted action. */
function coverageRanges(coverage: SummaryRequest["coverage"], lastSequence: number): readonly SequenceRange[] {
  if ("sequences" in coverage) return coverage.sequences;
  const n = Math.floor(coverage.latestActions);
  if (!(n > 0) || lastSequence < 1) return [];
  return [{ from: Math.max(1, lastSequence - n + 1), to: lastSequence }];
}

/** The default engine factory. */
export const memoryDelivery = (host: DeliveryHost): DeliveryEngine => new MemoryDelivery(host);
