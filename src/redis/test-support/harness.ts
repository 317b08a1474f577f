/** Helpers for the Redis engine's own tests: fault-injecting clients and a writer that records keys. */
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../../test/support/redis.js";
import { BaseChatbotWriter, type PostContext } from "../../writer/base-chatbot-writer.js";
import type { ChatbotWriterOptions } from "../../writer/options.js";
import type { RedisCommands } from "../commands.js";
import type { RedisConnection } from "../connection.js";
import type { RedisScript } from "../script.js";
import { redisDelivery, type RedisDeliveryOptions } from "../redis-delivery.js";

/**
 * A client over the real Redis that can lose replies (the command runs, then the caller gets an
 * error, as when a connection drops after the server answered), go down (every command fails at
 * once without reaching Redis) and fake `INFO memory`.
 */
export class FaultyClient implements RedisCommands {
  readonly #inner: RedisCommands;
  readonly #lose = new Map<string, number>();
  /** Commands run, by script sha or command name. */
  readonly ran = new Map<string, number>();
  down = false;
  /** When set, `INFO memory` answers with this policy. */
  fakePolicy: string | undefined;

  constructor(inner: RedisCommands) {
    this.#inner = inner;
  }

  /** The next `count` runs of `script` run in Redis, but their reply is lost. */
  loseReplyOf(script: RedisScript, count = 1): this {
    this.#lose.set(script.sha, (this.#lose.get(script.sha) ?? 0) + count);
    return this;
  }

  runs(script: RedisScript): number {
    return this.ran.get(script.sha) ?? 0;
  }

  async sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown> {
    if (this.down) throw new Error("connect ECONNREFUSED (simulated outage)");
    if (args[0] === "INFO" && this.fakePolicy !== undefined) return `# Memory\r\nmaxmemory_policy:${this.fakePolicy}\r\n`;
    // A script is named by its sha however it runs: FCALL of its function (`ap_` and the sha),
    // EVALSHA, or EVAL (the fallback when Redis does not know a script yet).
    const name =
      args[0] === "EVAL" ? createHash("sha1").update(args[1] ?? "").digest("hex")
      : args[0] === "EVALSHA" ? (args[1] ?? "")
      : args[0] === "FCALL" ? (args[1] ?? "").replace(/^ap_/, "")
      : (args[0] ?? "");
    const reply = await this.#inner.sendCommand(args, options);
    this.ran.set(name, (this.ran.get(name) ?? 0) + 1);
    const lose = this.#lose.get(name) ?? 0;
    if (lose > 0) {
      this.#lose.set(name, lose - 1);
      throw new Error("socket closed after the command was sent (simulated lost reply)");
    }
    return reply;
  }
}

export interface KeyedCall {
  conversationId: string;
  sessionId: string;
  body: string;
  attempt: number;
  idempotencyKey: string;
  outcome: "pending" | "delivered" | "failed";
}

type Behaviour = (call: KeyedCall, context: PostContext) => Promise<string | null>;

/** A writer recording every call with its idempotency key; `next()` scripts the next calls. */
export class KeyedWriter extends BaseChatbotWriter {
  readonly calls: KeyedCall[] = [];
  readonly logs: Array<{ level: string; message: string }> = [];
  readonly #script: Behaviour[] = [];
  #ids = 0;

  constructor(options: Partial<ChatbotWriterOptions>) {
    const logs: Array<{ level: string; message: string }> = [];
    const record = (level: string) => (message: string) => void logs.push({ level, message });
    super({ productId: "test", logger: { warn: record("warn"), error: record("error"), info: record("info") }, ...options });
    this.logs = logs;
  }

  get delivered(): KeyedCall[] {
    return this.calls.filter((c) => c.outcome === "delivered");
  }

  next(...behaviours: Behaviour[]): this {
    this.#script.push(...behaviours);
    return this;
  }

  protected override async postNote(conversationId: string, body: string, context: PostContext): Promise<string | null> {
    const call: KeyedCall = { conversationId, sessionId: context.sessionId, body, attempt: context.attempt, idempotencyKey: context.idempotencyKey, outcome: "pending" };
    this.calls.push(call);
    const behaviour = this.#script.shift();
    try {
      const id = behaviour === undefined ? `part-${++this.#ids}` : await behaviour(call, context);
      call.outcome = "delivered";
      return id;
    } catch (error) {
      call.outcome = "failed";
      throw error;
    }
  }

  protected override async redactPart(): Promise<void> {}
}

/** Body lines without the header and numbering. */
export function linesOf(calls: readonly { body: string }[]): string[] {
  return calls.flatMap((n) => n.body.split("\n").slice(3).filter((l) => l !== "").map((l) => l.replace(/^\[\d+\] /, "")));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-file setup: one real connection, a unique prefix per test, writers closed and keys deleted
 * after each test. `make` builds a KeyedWriter on the Redis engine (through `client` if given).
 */
export function redisTestBed(label: string) {
  const bed = {
    redis: undefined as unknown as RedisConnection,
    prefix: "",
    writers: [] as BaseChatbotWriter[],
    make(options: Partial<ChatbotWriterOptions> = {}, delivery: RedisDeliveryOptions = {}): KeyedWriter {
      const w = new KeyedWriter({
        postLinkDebounceMs: 30,
        closeTimeoutMs: 2000,
        ...options,
        delivery: redisDelivery({ connection: delivery.client === undefined ? bed.redis : undefined, keyPrefix: bed.prefix, pollIntervalMs: 50, leaseMarginMs: 300, ...delivery }),
      });
      bed.writers.push(w);
      return w;
    },
  };
  beforeAll(async () => {
    bed.redis = await connectTestRedis();
  });
  afterEach(async () => {
    await Promise.all(bed.writers.splice(0).map((w) => w.close()));
    await deleteByPrefix(bed.redis, bed.prefix);
    // A writer whose close() gave up at its bound may still have a script in flight: sweep again.
    await sleep(250);
    await deleteByPrefix(bed.redis, bed.prefix);
    bed.prefix = uniquePrefix(label);
  });
  afterAll(async () => {
    await bed.redis.close();
  });
  bed.prefix = uniquePrefix(label);
  return bed;
}
