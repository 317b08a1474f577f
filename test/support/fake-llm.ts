import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake LLM received. */
export interface LlmRequest {
  readonly authorization: string | undefined;
  readonly body: { model?: string; messages?: Array<{ role: string; content: string }> };
  /** The user message: the summarizer's prompt. */
  readonly prompt: string;
}

/** What the fake answers to the next request: a status (with headers and body), or a summary text. */
export type LlmReply = { status: number; headers?: Record<string, string>; body?: string } | { text: string; delayMs?: number } | { hang: true };

/**
 * A local OpenAI-compatible chat completions server (`POST /v1/chat/completions`) for tests:
 * records every request and answers from a script (beyond it: `summary N`).
 */
export class FakeLlmServer {
  readonly requests: LlmRequest[] = [];
  readonly #script: LlmReply[] = [];
  readonly #server: Server;
  #url = "";

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Base URL to configure (`LLM_BASE_URL`), ending in /v1. */
  get baseUrl(): string {
    return this.#url;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
    return this;
  }

  reply(...replies: LlmReply[]): this {
    this.#script.push(...replies);
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as LlmRequest["body"];
    const prompt = body.messages?.find((m) => m.role === "user")?.content ?? "";
    this.requests.push({ authorization: req.headers.authorization, body, prompt });
    const reply = this.#script.shift() ?? { text: `summary ${this.requests.length}` };
    if ("hang" in reply) return;
    if ("status" in reply) {
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers }).end(reply.body ?? "{}");
      return;
    }
    if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    const answer = {
      id: `chatcmpl-${this.requests.length}`,
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: reply.text }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  }
}
