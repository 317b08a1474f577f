import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLlmServer } from "../../test/support/fake-llm.js";
import { LlmRequestError, openAiChatLlm } from "./openai-chat.js";

let server: FakeLlmServer;

beforeEach(async () => {
  server = await new FakeLlmServer().start();
});

afterEach(async () => {
  await server.close();
});

describe("openAiChatLlm", () => {
  it("posts the prompt as the user message with the model and the bearer key, and returns choices[0].message.content", async () => {
    server.reply({ text: "They upgraded." });
    const llm = openAiChatLlm({ baseUrl: `${server.baseUrl}/`, apiKey: "sk-test", model: "tiny" });
    expect(await llm("Summarize: x")).toBe("They upgraded.");
    expect(server.requests[0]).toMatchObject({ authorization: "Bearer sk-test", prompt: "Summarize: x", body: { model: "tiny" } });
    expect(server.requests[0]?.body.messages?.[0]?.role).toBe("system");
  });

  it("waits for Retry-After on a 429 and retries 5xx; a 401 fails at once without echoing the key", async () => {
    server.reply({ status: 429, headers: { "retry-after": "0" } }, { status: 503 }, { text: "ok" });
    const llm = openAiChatLlm({ baseUrl: server.baseUrl, apiKey: "sk-secret", model: "m", baseDelayMs: 5 });
    expect(await llm("p")).toBe("ok");
    expect(server.requests).toHaveLength(3);
    server.reply({ status: 401, body: '{"error":"bad key sk-secret"}' });
    const error = await llm("p").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmRequestError);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect((error as Error).message).not.toContain("sk-secret");
    expect(server.requests).toHaveLength(4);
  });

  it("times a hung request out and retries it, bounded by maxAttempts", async () => {
    server.reply({ hang: true }, { hang: true });
    const llm = openAiChatLlm({ baseUrl: server.baseUrl, model: "m", timeoutMs: 100, maxAttempts: 2, baseDelayMs: 1 });
    await expect(llm("p")).rejects.toThrow(/no answer within 100 ms/);
    expect(server.requests).toHaveLength(2);
  });

  it("refuses bad options by name", () => {
    expect(() => openAiChatLlm({ baseUrl: "ftp://x", model: "m" })).toThrow(/baseUrl/);
    expect(() => openAiChatLlm({ baseUrl: "http://x", model: "" })).toThrow(/`model`/);
    expect(() => openAiChatLlm({ baseUrl: "http://x", model: "m", timeoutMs: -1 })).toThrow(/`timeoutMs`/);
  });
});
