import { afterEach, describe, expect, it, vi } from "vitest";
import { PayloadError } from "../errors.js";
import { AgentContextWriter } from "../summaries/agent-context-writer.js";
import { SessionSummarizer } from "../summaries/session-summarizer.js";
import { createTestWriter, ScriptedLlm, type RecordingChatbotWriter } from "../testing/index.js";
import { slim } from "../writer/test-support/actions.js";
import { AutoplayChatbotManager } from "./autoplay-chatbot-manager.js";

const managers: AutoplayChatbotManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

function make(writer: RecordingChatbotWriter, contextWriter?: AgentContextWriter): AutoplayChatbotManager {
  const m = new AutoplayChatbotManager({ writer, contextWriter });
  managers.push(m);
  return m;
}

const t = Math.floor(Date.now() / 1000) - 30;
const payload = (descriptions: string[], first = 0) => ({
  type: "actions", product_id: "p", session_id: "s", actions: descriptions.map((d, i) => slim(d, t + first + i, first + i)),
});

describe("manager summaries", () => {
  it("refuses a contextWriter built on another writer", () => {
    const writer = createTestWriter();
    const other = new AgentContextWriter({ writer: createTestWriter() });
    expect(() => new AutoplayChatbotManager({ writer, contextWriter: other })).toThrow(/contextWriter/);
  });

  it("feeds the summarizer only the new actions of a batch, with the writer's numbers", async () => {
    const writer = createTestWriter({ postLinkDebounceMs: 10 });
    const llm = new ScriptedLlm();
    const summarizer = new SessionSummarizer({ llm: llm.llm, threshold: 3, logger: {} });
    const m = make(writer, new AgentContextWriter({ writer, summarizer }));
    const first = await m.onActions(payload(["a", "b"]));
    const replay = await m.onActions(payload(["a", "b"]));
    expect(first.newActions).toBe(2);
    expect(replay.duplicates).toBe(2);
    expect(summarizer.pending("s")).toBe(2);
    await m.onActions(payload(["c"], 2));
    await summarizer.onIdle();
    expect(llm.prompts).toHaveLength(1);
    expect(llm.prompts[0]?.match(/click: [abc] /g)).toHaveLength(3);
    expect(m.stats().summarizer).toMatchObject({ summaries: 1, llmFailures: 0 });
  });

  it("runs a connector summary without a contextWriter, in session order", async () => {
    const writer = createTestWriter({ postLinkDebounceMs: 10 });
    const m = make(writer);
    await m.onChatbotEvent("s", "c");
    await m.onActions(payload(["a"]));
    await vi.waitFor(() => expect(writer.notes).toHaveLength(1));
    await m.onActions(payload(["b"], 1));
    await vi.waitFor(() => expect(writer.notes).toHaveLength(2));
    const outcome = await m.onSummary(JSON.stringify({ type: "summary", product_id: "p", session_id: "s", summary: "b only", replaces: 1, forwarded_at: 1 }));
    expect(outcome).toMatchObject({ status: "queued", snapshot: 1 });
    await vi.waitFor(() => expect(writer.redactedPartIds).toEqual([writer.notes[1]?.partId]));
    expect(writer.notes[2]?.body.endsWith("\n\nb only")).toBe(true);
  });

  it("rejects a summary without a session or without prose", async () => {
    const m = make(createTestWriter());
    await expect(m.onSummary({ type: "summary", product_id: "p", session_id: null, summary: "x", replaces: 1, forwarded_at: 0 })).rejects.toBeInstanceOf(PayloadError);
    await expect(m.onSummary({ type: "summary", product_id: "p", session_id: "s", summary: " ", replaces: 1, forwarded_at: 0 })).rejects.toBeInstanceOf(PayloadError);
  });
});
