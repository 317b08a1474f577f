import { WriterClosedError } from "../errors.js";
import { oneLine } from "../note/format.js";
import { checkFunction, checkNumber, stderrLogger } from "../option-checks.js";
import { toRanges, type SequenceRange } from "../writer/note-records.js";
import type { WriterLogger } from "../writer/options.js";
import { startHousekeeping } from "../writer/timers.js";

/** What a summarizer reads of an action: a slim action (SPEC §2), every field optional. */
export interface SummarizerAction {
  readonly index?: number | null;
  readonly type?: string | null;
  readonly title?: string | null;
  readonly description?: string | null;
  readonly canonical_url?: string | null;
  readonly timestamp_start?: number | null;
}

/** The user's LLM: takes the prompt, returns the summary prose. `signal` aborts at the summarizer's timeout. */
export type SummaryLlm = (prompt: string, context?: { signal: AbortSignal }) => Promise<string>;

/** Renders a session's actions for the prompt's `{actions}` placeholder. */
export type FormatActions = (actions: readonly SummarizerAction[]) => string;

/** A summary the LLM wrote for one session. */
export interface SessionSummary {
  readonly sessionId: string;
  /** The LLM's prose, trimmed. */
  readonly summary: string;
  /** Actions it condenses. */
  readonly actionCount: number;
  /** Their sequence numbers in the session (from the writer), merged into ranges; empty when unnumbered. */
  readonly sequences: readonly SequenceRange[];
  /** The prompt the LLM answered. */
  readonly prompt: string;
}

/** Receives each summary; a rejection counts as a failure and keeps the history for the next trigger. */
export type SummaryHandler = (summary: SessionSummary) => Promise<void>;

/** Options of {@link SessionSummarizer}. Times are milliseconds. */
export interface SessionSummarizerOptions {
  /** The LLM call (user-supplied; see `openAiChatLlm` for an OpenAI-compatible endpoint). Required. */
  llm: SummaryLlm;
  /** Unsummarized actions of a session that trigger a summary. @default 20 */
  threshold?: number;
  /** The prompt template; must contain `{actions}` (every occurrence is replaced). @default {@link DEFAULT_SUMMARY_PROMPT} */
  prompt?: string;
  /** Renders the actions for `{actions}`. @default {@link formatActionsForPrompt} (type, description and URL per action) */
  formatActions?: FormatActions;
  /** A session with no new action for this long is forgotten; its unsummarized actions are counted and logged. @default 1_800_000 */
  idleTtlMs?: number;
  /** An LLM call that has not answered by then counts as failed (its late answer is ignored). @default 120_000 */
  llmTimeoutMs?: number;
  /** Most unsummarized actions kept per session while the LLM keeps failing; the oldest go first (counted, logged). @default 10 × threshold */
  maxHistory?: number;
  /** @default JSON lines on stderr */
  logger?: WriterLogger;
  /** Wall clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** The summarizer's counters and gauges. */
export interface SummarizerStats {
  /** Summaries written and handed over. */
  summaries: number;
  /** LLM calls that failed (threw, answered nothing, or timed out). */
  llmFailures: number;
  /** Of those, calls that timed out. */
  llmTimeouts: number;
  /** Summaries the handler (the writer) refused; their history was kept. */
  handlerFailures: number;
  /** Unsummarized actions dropped because a session's history reached `maxHistory`. */
  actionsDropped: number;
  /** Unsummarized actions of sessions that expired idle. */
  actionsExpired: number;
  /** Sessions tracked now. */
  sessions: number;
  /** LLM calls in progress now. */
  running: number;
}

/** The default prompt template. */
export const DEFAULT_SUMMARY_PROMPT =
  "You are helping a support agent who is about to answer this user. In a few short sentences, summarize " +
  "what the user did in the web app, in order, and where they seem to be stuck. Use only the actions below; " +
  "do not invent anything.\n\nActions (oldest first):\n{actions}";

const PLACEHOLDER = "{actions}";
const EM_DASH = "\u2014";

/** One line per action: `[{n}] {type}: {description} — {canonical_url}` (n is 1-based in the prompt; line breaks become spaces). */
export function formatActionsForPrompt(actions: readonly SummarizerAction[]): string {
  return actions
    .map((a, i) => `[${i + 1}] ${text(a.type)}: ${text(a.description)} ${EM_DASH} ${text(a.canonical_url)}`)
    .join("\n");
}

function text(value: unknown): string {
  if (typeof value === "string") return oneLine(value);
  return typeof value === "number" || typeof value === "boolean" ? String(value) : "";
}

interface SessionHistory {
  actions: SummarizerAction[];
  seqs: number[];
  /** Entries removed from the front so far (lets a run drop exactly what it summarized). */
  removed: number;
  running: Promise<void> | null;
  lastActivityAt: number;
}

/**
 * Condenses each session's actions with a user-supplied LLM once `threshold` unsummarized
 * actions accumulated (SPEC §8; the reference's name). One run per session at a time, in arrival
 * order; actions that arrive while the LLM thinks wait for the next summary. A failed LLM call
 * keeps the history: the next action that arrives triggers a new try. Summaries go to the handler
 * attached by an {@link AgentContextWriter} (which posts them and redacts what they cover).
 */
export class SessionSummarizer {
  readonly threshold: number;
  readonly #llm: SummaryLlm;
  readonly #prompt: string;
  readonly #format: FormatActions;
  readonly #idleTtlMs: number;
  readonly #timeoutMs: number;
  readonly #maxHistory: number;
  readonly #logger: WriterLogger;
  readonly #now: () => number;
  readonly #sessions = new Map<string, SessionHistory>();
  readonly #stats: Omit<SummarizerStats, "sessions" | "running"> = {
    summaries: 0, llmFailures: 0, llmTimeouts: 0, handlerFailures: 0, actionsDropped: 0, actionsExpired: 0,
  };
  #handler: SummaryHandler | null = null;
  #running = 0;
  #idleWaiters: Array<() => void> = [];
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: SessionSummarizerOptions) {
    if (options === null || typeof options !== "object") throw new TypeError(`Expected summarizer options to be an object, got ${String(options)}`);
    this.#llm = checkFunction("llm", options.llm);
    this.threshold = checkNumber("threshold", options.threshold ?? 20, 1, true, 1_000_000);
    const prompt = options.prompt ?? DEFAULT_SUMMARY_PROMPT;
    if (typeof prompt !== "string" || !prompt.includes(PLACEHOLDER)) {
      throw new TypeError(`Expected \`prompt\` to be a string containing the ${PLACEHOLDER} placeholder, got ${JSON.stringify(prompt)?.slice(0, 80) ?? typeof prompt}`);
    }
    this.#prompt = prompt;
    this.#format = checkFunction("formatActions", options.formatActions ?? formatActionsForPrompt);
    this.#idleTtlMs = checkNumber("idleTtlMs", options.idleTtlMs ?? 1_800_000, 1);
    this.#timeoutMs = checkNumber("llmTimeoutMs", options.llmTimeoutMs ?? 120_000, 1);
    this.#maxHistory = checkNumber("maxHistory", options.maxHistory ?? this.threshold * 10, this.threshold, true, Number.MAX_SAFE_INTEGER);
    this.#logger = options.logger ?? stderrLogger;
    this.#now = checkFunction("now", options.now ?? Date.now);
  }

  /** Sets where summaries go (one handler; an {@link AgentContextWriter} attaches itself). Returns the detach function. */
  attach(handler: SummaryHandler): () => void {
    if (this.#handler !== null) throw new TypeError("this summarizer already has a handler (one AgentContextWriter per summarizer)");
    this.#handler = checkFunction("handler", handler);
    return () => {
      if (this.#handler === handler) this.#handler = null;
    };
  }

  /**
   * Adds a session's new actions (in arrival order; duplicates already left out). When the writer
   * numbered them, `lastSequence` is the number of the last one (`WriteOutcome.lastSequence`):
   * the summary then says exactly which actions it covers, which is what makes redaction safe.
   * Starts a summary in the background once the threshold is reached.
   * @throws WriterClosedError after `close()`.
   */
  add(sessionId: string, actions: readonly SummarizerAction[], lastSequence?: number): void {
    if (this.#closed) throw new WriterClosedError();
    if (actions.length === 0) return;
    const s = this.#session(sessionId);
    const numbered = typeof lastSequence === "number" && Number.isSafeInteger(lastSequence) && lastSequence >= actions.length;
    const first = numbered ? lastSequence - actions.length + 1 : 0;
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i];
      if (action === null || typeof action !== "object") continue;
      s.actions.push(action);
      s.seqs.push(numbered ? first + i : 0);
    }
    this.#bound(sessionId, s);
    if (s.running === null && s.actions.length >= this.threshold) s.running = this.#run(sessionId, s);
  }

  /** Unsummarized actions held for a session. */
  pending(sessionId: string): number {
    return this.#sessions.get(sessionId)?.actions.length ?? 0;
  }

  /** Forgets sessions idle for `idleTtlMs` (their unsummarized actions are counted and logged); returns how many. */
  pruneIdleSessions(): number {
    const now = this.#now();
    let removed = 0;
    let expired = 0;
    for (const [id, s] of this.#sessions) {
      if (s.running !== null || now - s.lastActivityAt < this.#idleTtlMs) continue;
      expired += s.actions.length;
      this.#sessions.delete(id);
      removed++;
    }
    if (expired > 0) {
      this.#stats.actionsExpired += expired;
      this.#log("warn", "unsummarized actions of idle sessions expired (their notes stay unredacted)", { actions: expired, sessions: removed });
    }
    if (this.#sessions.size === 0) this.#stopSweep();
    return removed;
  }

  /** Counters and gauges. */
  stats(): SummarizerStats {
    return { ...this.#stats, sessions: this.#sessions.size, running: this.#running };
  }

  /** Resolves when no LLM call or handler is in progress. */
  onIdle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops intake and waits for runs in progress, at most `timeoutMs`; what is still unsummarized
   * is counted (`actionsExpired`) and logged. Safe to call twice.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    this.#closed = true;
    this.#stopSweep();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.onIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    let left = 0;
    for (const s of this.#sessions.values()) left += s.actions.length;
    this.#sessions.clear();
    if (left > 0) {
      this.#stats.actionsExpired += left;
      this.#log("warn", "summarizer closed with unsummarized actions", { actions: left });
    }
  }

  #session(sessionId: string): SessionHistory {
    const now = this.#now();
    let s = this.#sessions.get(sessionId);
    if (s === undefined) {
      s = { actions: [], seqs: [], removed: 0, running: null, lastActivityAt: now };
      this.#sessions.set(sessionId, s);
      this.#sweep ??= startHousekeeping(
        Math.min(this.#idleTtlMs, 60_000),
        () => this.pruneIdleSessions(),
        (error) => this.#log("error", "summarizer sweep failed", { error: String(error) }),
      );
    }
    s.lastActivityAt = now;
    return s;
  }

  /** Keeps at most `maxHistory` unsummarized actions: the oldest go, counted and logged. */
  #bound(sessionId: string, s: SessionHistory): void {
    const over = s.actions.length - this.#maxHistory;
    if (over <= 0) return;
    s.actions.splice(0, over);
    s.seqs.splice(0, over);
    s.removed += over;
    this.#stats.actionsDropped += over;
    this.#log("warn", "unsummarized history reached maxHistory; the oldest actions were dropped from it (their notes stay unredacted)", {
      sessionId, actions: over, maxHistory: this.#maxHistory,
    });
  }

  /** One session's summaries, one at a time, while its history holds at least `threshold` actions. */
  async #run(sessionId: string, s: SessionHistory): Promise<void> {
    this.#running++;
    try {
      while (!this.#closed && s.actions.length >= this.threshold) {
        const count = s.actions.length;
        const removedBefore = s.removed;
        const prompt = this.#render(s.actions.slice(0, count));
        const text = await this.#ask(sessionId, prompt);
        if (text === null) return; // kept: the next arrival tries again
        const summary: SessionSummary = { sessionId, summary: text, actionCount: count, sequences: toRanges(s.seqs.slice(0, count)), prompt };
        try {
          await this.#handler?.(summary);
        } catch (error) {
          this.#stats.handlerFailures++;
          this.#log("warn", "summary not accepted; the history is kept for the next trigger", { sessionId, error: errorText(error) });
          return;
        }
        // Exactly what was summarized leaves the history (maxHistory may have dropped some of it meanwhile).
        const done = Math.max(0, count - (s.removed - removedBefore));
        s.actions.splice(0, done);
        s.seqs.splice(0, done);
        s.removed += done;
        this.#stats.summaries++;
      }
    } finally {
      s.running = null;
      this.#running--;
      if (this.#running === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  #render(actions: readonly SummarizerAction[]): string {
    const rendered = this.#format(actions);
    return this.#prompt.split(PLACEHOLDER).join(String(rendered));
  }

  /** The LLM's answer, trimmed; null (counted, logged) when it failed, answered nothing or timed out. */
  async #ask(sessionId: string, prompt: string): Promise<string | null> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#timeoutMs);
    });
    try {
      const answer = await Promise.race([Promise.resolve().then(() => this.#llm(prompt, { signal: controller.signal })), timedOut]);
      if (answer === "timeout") {
        controller.abort(new Error("summary LLM call timed out"));
        this.#stats.llmTimeouts++;
        throw new Error(`no answer within llmTimeoutMs (${this.#timeoutMs} ms)`);
      }
      if (typeof answer !== "string" || answer.trim() === "") throw new Error("the LLM answered an empty summary");
      return answer.trim();
    } catch (error) {
      this.#stats.llmFailures++;
      this.#log("warn", "summary LLM call failed; the history is kept for the next trigger", { sessionId, error: errorText(error) });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  #log(level: "warn" | "error", message: string, fields: Record<string, unknown>): void {
    try {
      this.#logger[level]?.(message, fields);
    } catch {
      // A broken logger must not break summaries.
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
