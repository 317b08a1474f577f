import { describe, expect, it, vi } from "vitest";
import { ScriptedLlm } from "../testing/index.js";
import { slim } from "../writer/test-support/actions.js";
import { DEFAULT_SUMMARY_PROMPT, formatActionsForPrompt, SessionSummarizer, type SessionSummary } from "./session-summarizer.js";

function setup(options: Partial<ConstructorParameters<typeof SessionSummarizer>[0]> = {}) {
  const llm = new ScriptedLlm();
  const warnings: string[] = [];
  const summarizer = new SessionSummarizer({ llm: llm.llm, threshold: 2, logger: { warn: (m) => warnings.push(m) }, ...options });
  const summaries: SessionSummary[] = [];
  summarizer.attach(async (s) => {
    summaries.push(s);
  });
  return { llm, summarizer, summaries, warnings };
}

describe("SessionSummarizer", () => {
  it("refuses a prompt without {actions}, naming the option", () => {
    expect(() => new SessionSummarizer({ llm: async () => "", prompt: "Summarize." })).toThrow(/`prompt`.*\{actions\}/);
    expect(() => new SessionSummarizer({ llm: async () => "", threshold: 0 })).toThrow(/`threshold`/);
    expect(() => new SessionSummarizer({ llm: "nope" as never })).toThrow(/`llm`/);
    expect(DEFAULT_SUMMARY_PROMPT).toContain("{actions}");
  });

  it("renders each action with its type, description and URL, on one line each", () => {
    const text = formatActionsForPrompt([{ ...slim("Opened\nBilling", 1), type: "pageview", canonical_url: "https://app/billing" }]);
    expect(text).toBe("[1] pageview: Opened Billing \u2014 https://app/billing");
  });

  it("summarizes once the threshold is reached, replacing every {actions}, with the writer's sequence numbers", async () => {
    const { llm, summarizer, summaries } = setup({ prompt: "A: {actions} / again: {actions} $&" });
    summarizer.add("s", [slim("one", 1)], 7);
    await summarizer.onIdle();
    expect(llm.prompts).toEqual([]);
    summarizer.add("s", [slim("two", 2)], 8);
    await summarizer.onIdle();
    expect(llm.prompts[0]).toBe("A: [1] click: one \u2014 https://app.example/x\n[2] click: two \u2014 https://app.example/x / again: [1] click: one \u2014 https://app.example/x\n[2] click: two \u2014 https://app.example/x $&");
    expect(summaries).toEqual([expect.objectContaining({ sessionId: "s", summary: "summary 1", actionCount: 2, sequences: [{ from: 7, to: 8 }] })]);
    expect(summarizer.pending("s")).toBe(0);
  });

  it("keeps the history when the LLM fails, answers empty, or times out; the next trigger tries again", async () => {
    const { llm, summarizer, summaries, warnings } = setup({ threshold: 1, llmTimeoutMs: 50 });
    llm.failNext(1).answerNext("   ");
    llm.gateNext(); // never released: times out
    for (const n of [1, 2, 3]) {
      summarizer.add("s", [slim(`a${n}`, n)], n);
      await summarizer.onIdle();
    }
    expect(summarizer.stats()).toMatchObject({ llmFailures: 3, llmTimeouts: 1, summaries: 0 });
    expect(summarizer.pending("s")).toBe(3);
    expect(warnings.filter((w) => w.includes("LLM call failed"))).toHaveLength(3);
    summarizer.add("s", [slim("a4", 4)], 4);
    await summarizer.onIdle();
    expect(summaries[0]).toMatchObject({ actionCount: 4, sequences: [{ from: 1, to: 4 }] });
    expect(summarizer.pending("s")).toBe(0);
  });

  it("processes a session in order: actions arriving while the LLM thinks wait for the next summary", async () => {
    const { llm, summarizer, summaries } = setup();
    const gate = llm.gateNext();
    summarizer.add("s", [slim("a", 1), slim("b", 2)], 2);
    await gate.started;
    summarizer.add("s", [slim("c", 3)], 3);
    summarizer.add("s", [slim("d", 4)], 4);
    expect(llm.prompts).toHaveLength(1);
    gate.release("first");
    await vi.waitFor(() => expect(summaries).toHaveLength(2));
    expect(summaries.map((s) => [s.summary, s.sequences])).toEqual([["first", [{ from: 1, to: 2 }]], ["summary 2", [{ from: 3, to: 4 }]]]);
  });

  it("keeps the history when the handler refuses the summary", async () => {
    const llm = new ScriptedLlm();
    const summarizer = new SessionSummarizer({ llm: llm.llm, threshold: 1, logger: {} });
    summarizer.attach(async () => {
      throw new Error("writer closed");
    });
    summarizer.add("s", [slim("a", 1)], 1);
    await summarizer.onIdle();
    expect(summarizer.stats()).toMatchObject({ handlerFailures: 1, summaries: 0 });
    expect(summarizer.pending("s")).toBe(1);
  });

  it("never drops unsummarized history silently: maxHistory and idle expiry are counted and logged", async () => {
    let now = 1_000_000;
    const { llm, summarizer, warnings } = setup({ threshold: 2, maxHistory: 3, idleTtlMs: 1_000, now: () => now });
    llm.failNext(10);
    summarizer.add("s", [slim("a", 1), slim("b", 2), slim("c", 3), slim("d", 4)], 4);
    await summarizer.onIdle();
    expect(summarizer.stats().actionsDropped).toBe(1);
    expect(summarizer.pending("s")).toBe(3);
    now += 1_000;
    expect(summarizer.pruneIdleSessions()).toBe(1);
    expect(summarizer.stats()).toMatchObject({ actionsExpired: 3, sessions: 0 });
    expect(warnings.some((w) => w.includes("maxHistory"))).toBe(true);
    expect(warnings.some((w) => w.includes("expired"))).toBe(true);
    await summarizer.close();
  });
});
