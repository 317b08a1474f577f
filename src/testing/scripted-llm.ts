/** What the next LLM call does. */
export type LlmBehaviour =
  | { kind: "answer"; text: string }
  | { kind: "fail"; error: unknown }
  /** Waits until the test releases or fails it through the returned gate. */
  | { kind: "wait"; until: PromiseLike<LlmBehaviour>; onStart: (prompt: string) => void };

/** A call held open by the test (see {@link ScriptedLlm.gateNext}). */
export interface LlmGate {
  /** Resolves with the prompt once the gated call started. */
  readonly started: Promise<string>;
  release(text: string): void;
  fail(error: unknown): void;
}

/**
 * An LLM for tests of summaries: records every prompt and answers from a script (calls beyond it
 * answer `summary 1`, `summary 2`, …). Pass `llm` as a `SessionSummarizer`'s `llm`.
 */
export class ScriptedLlm {
  /** Every prompt, in call order. */
  readonly prompts: string[] = [];
  readonly #script: LlmBehaviour[] = [];
  #calls = 0;

  /** The function to hand to a summarizer. */
  readonly llm = (prompt: string): Promise<string> => {
    this.prompts.push(prompt);
    this.#calls++;
    return this.#perform(prompt, this.#script.shift() ?? { kind: "answer", text: `summary ${this.#calls}` });
  };

  /** The next calls answer these texts. */
  answerNext(...texts: string[]): this {
    for (const text of texts) this.#script.push({ kind: "answer", text });
    return this;
  }

  /** The next `count` calls reject with `error`. */
  failNext(count = 1, error: unknown = new Error("simulated LLM failure")): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "fail", error });
    return this;
  }

  /** The next call waits for the test. */
  gateNext(): LlmGate {
    let decide!: (behaviour: LlmBehaviour) => void;
    const until = new Promise<LlmBehaviour>((resolve) => (decide = resolve));
    let onStart!: (prompt: string) => void;
    const started = new Promise<string>((resolve) => (onStart = resolve));
    this.#script.push({ kind: "wait", until, onStart });
    return { started, release: (text) => decide({ kind: "answer", text }), fail: (error) => decide({ kind: "fail", error }) };
  }

  async #perform(prompt: string, behaviour: LlmBehaviour): Promise<string> {
    switch (behaviour.kind) {
      case "answer":
        return behaviour.text;
      case "fail":
        throw behaviour.error;
      case "wait":
        behaviour.onStart(prompt);
        return this.#perform(prompt, await behaviour.until);
    }
  }
}
