import { PayloadError } from "../errors.js";
import type { SummaryPayload } from "../payloads/types.js";
import type { BaseChatbotWriter } from "../writer/base-chatbot-writer.js";
import type { SummaryOutcome } from "../writer/delivery-engine.js";
import type { SessionSummarizer, SummarizerAction, SummarizerStats } from "./session-summarizer.js";

/** Options of {@link AgentContextWriter}. */
export interface AgentContextWriterOptions {
  /** The writer that posts the notes; it also posts the summaries and redacts what they cover. */
  writer: BaseChatbotWriter;
  /** Our LLM summaries; leave it out to use only the connector's own `summary` payloads. */
  summarizer?: SessionSummarizer;
  /** Bound on waiting for LLM calls in progress at `close()`, in ms. @default 5_000 */
  closeTimeoutMs?: number;
}

/**
 * A summarizer joined to a writer (the reference's name; SPEC §8). The manager takes it as its
 * `contextWriter` option and feeds it each payload's new actions after routing them to the
 * writer; there is no second debounce in front of the writer. Each summary goes through
 * {@link BaseChatbotWriter.postSummary}: the summary note is posted first, and only once it is
 * confirmed are exactly the notes it covers redacted (docs/summaries.md).
 */
export class AgentContextWriter {
  readonly writer: BaseChatbotWriter;
  readonly summarizer: SessionSummarizer | null;
  readonly #closeTimeoutMs: number;
  readonly #detach: () => void;
  #connectorSummaries = 0;
  #closed: Promise<void> | undefined;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: AgentContextWriterOptions) {
    if (options === null || typeof options !== "object" || options.writer === null || typeof options.writer?.postSummary !== "function") {
      throw new TypeError("Expected `writer` to be a BaseChatbotWriter");
    }
    this.writer = options.writer;
    this.summarizer = options.summarizer ?? null;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
    if (!(this.#closeTimeoutMs >= 0)) throw new TypeError(`Expected \`closeTimeoutMs\` to be >= 0, got ${String(options.closeTimeoutMs)}`);
    this.#detach =
      this.summarizer?.attach(async (summary) => {
        // An unlinked session has nowhere to post: the summary is dropped (counted by the
        // writer); its actions still reach the conversation in the at-link flush note.
        await this.writer.postSummary(summary.sessionId, summary.summary, { sequences: summary.sequences });
      }) ?? (() => undefined);
  }

  /**
   * A session's new actions, as the writer accepted them (`WriteOutcome.newActions`), with the
   * number of the last one (`WriteOutcome.lastSequence`). Never throws for a closed summarizer:
   * the actions are already delivered, a summary is a bonus.
   */
  addActions(sessionId: string, actions: readonly SummarizerAction[], lastSequence?: number): void {
    if (this.summarizer === null || this.#closed !== undefined) return;
    this.summarizer.add(sessionId, actions, lastSequence);
  }

  /**
   * The connector's own summary (`replaces` = how many of the session's latest actions it
   * condenses): the same overwrite step, without our LLM.
   * @throws PayloadError when the payload has no session id or an empty summary.
   */
  async onSummary(payload: SummaryPayload): Promise<SummaryOutcome> {
    const sessionId = payload.session_id;
    if (typeof sessionId !== "string" || sessionId === "") throw new PayloadError("session_id is required");
    const replaces = Number.isFinite(payload.replaces) ? Math.max(0, Math.floor(payload.replaces)) : 0;
    const outcome = await this.writer.postSummary(sessionId, payload.summary, { latestActions: replaces });
    this.#connectorSummaries++;
    return outcome;
  }

  /** The summarizer's counters, and how many connector summaries were handed to the writer. */
  stats(): { summarizer: SummarizerStats | null; connectorSummaries: number } {
    return { summarizer: this.summarizer?.stats() ?? null, connectorSummaries: this.#connectorSummaries };
  }

  /** Resolves when no summary is being written. */
  onIdle(): Promise<void> {
    return this.summarizer?.onIdle() ?? Promise.resolve();
  }

  /**
   * Stops taking actions and lets summaries in progress reach the writer (bounded by
   * `closeTimeoutMs`), so they are drained with it. Does not close the writer. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      try {
        await this.summarizer?.close(this.#closeTimeoutMs);
      } finally {
        this.#detach();
      }
    })();
    return this.#closed;
  }
}
