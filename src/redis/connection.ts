import type { RedisCommands } from "./commands.js";
import { RedisUnavailableError } from "./commands.js";
import { CommandDeadlines } from "./command-deadlines.js";

/** How to reach Redis: a URL (we create and own the client) or a client you own. */
export interface RedisConnectionOptions {
  /** `redis://host:port/db`. @default process.env.REDIS_URL ?? "redis://127.0.0.1:6379" */
  url?: string;
  /** An existing client (e.g. from `@redis/client`'s `createClient({ RESP: 2 })`); not closed by us. */
  client?: RedisCommands;
  /** A command not answered in this long fails, in ms. @default 2_000 */
  commandTimeoutMs?: number;
  /** Receives connection errors of a client we created. @default ignored (commands report them) */
  onError?: (error: Error) => void;
}

/** Commands queued in a client we create at most (written or waiting to be); beyond it a command fails at once. */
const MAX_QUEUED_COMMANDS = 20_000;

interface OwnedClient extends RedisCommands {
  isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * One Redis connection, created lazily on the first command (construction does no I/O).
 * Commands never wait for a reconnect: while the server is down they fail at once with a
 * {@link RedisUnavailableError}, and every command is bounded by `commandTimeoutMs`.
 */
export class RedisConnection implements RedisCommands {
  readonly #options: RedisConnectionOptions;
  readonly #timeoutMs: number;
  #client: RedisCommands | undefined;
  #owned: OwnedClient | undefined;
  #connecting: Promise<RedisCommands> | undefined;
  #closed = false;
  #commandsSent = 0;
  readonly #deadlines = new CommandDeadlines();

  constructor(options: RedisConnectionOptions = {}) {
    this.#options = options;
    this.#timeoutMs = options.commandTimeoutMs ?? 2_000;
    if (!(this.#timeoutMs > 0)) throw new TypeError(`Expected \`commandTimeoutMs\` to be > 0, got ${String(options.commandTimeoutMs)}`);
    this.#client = options.client;
  }

  /** The URL a created client connects to. */
  get url(): string {
    return this.#options.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  }

  /** Commands sent through this connection so far (each a round trip to Redis; a pipeline counts each command). */
  get commandsSent(): number {
    return this.#commandsSent;
  }

  async sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown> {
    if (this.#closed) throw new RedisUnavailableError("the Redis connection is closed");
    const client = this.#client ?? (await this.#connect());
    this.#commandsSent++;
    try {
      const timeoutMs = options?.timeout ?? this.#timeoutMs;
      return await this.#deadlines.bound(client.sendCommand(args), timeoutMs, () => new Error(`no reply within ${timeoutMs} ms`));
    } catch (error) {
      if (isReplyError(error)) throw error;
      throw new RedisUnavailableError(`Redis command ${args[0] ?? ""} failed: ${messageOf(error)}`, { cause: error });
    }
  }

  /**
   * Closes the client this connection created (never a client it was given). Safe twice. With
   * `timeoutMs`, a close that has not finished by then (replies still owed by an unreachable
   * server) destroys the socket instead.
   */
  async close(timeoutMs?: number): Promise<void> {
    this.#closed = true;
    this.#deadlines.stop();
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!owned.isOpen) return;
      const closing = owned.close();
      if (timeoutMs === undefined) return await closing;
      const bound = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      if ((await Promise.race([closing, bound])) === "timeout") {
        closing.catch(() => undefined);
        owned.destroy();
      }
    } catch {
      owned.destroy();
    } finally {
      clearTimeout(timer);
    }
  }

  #connect(): Promise<RedisCommands> {
    this.#connecting ??= this.#create().catch((error: unknown) => {
      this.#connecting = undefined;
      throw new RedisUnavailableError(`cannot connect to Redis at ${redact(this.url)}: ${messageOf(error)}`, { cause: error });
    });
    return this.#connecting;
  }

  async #create(): Promise<RedisCommands> {
    // Loaded only here, so users of the in-memory engine never need the package.
    const { createClient } = await import("@redis/client");
    const client = createClient({
      url: this.url,
      RESP: 2,
      disableOfflineQueue: true,
      // Commands are bounded by our own deadlines (one shared watchdog). node-redis 6 would
      // otherwise arm an AbortSignal.timeout per command (5 s by default): each is kept alive
      // until it fires, and at thousands of commands a second their garbage was the largest
      // cause of the Redis configuration's latency tail.
      commandOptions: { timeout: 0 },
      // That timeout also dropped commands a stalled socket never wrote: bound the queue instead,
      // so a Redis that stops answering fails new commands at once rather than piling them up.
      commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
      socket: {
        connectTimeout: this.#timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
      },
    }) as unknown as OwnedClient;
    // connect() keeps retrying while the server is unreachable; a caller must not hang on it:
    // the first connection error, or the timeout, fails this attempt.
    let timer: NodeJS.Timeout | undefined;
    let failConnect: ((error: Error) => void) | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      failConnect = reject;
      timer = setTimeout(() => reject(new Error(`no connection within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    client.on("error", (error: Error) => {
      failConnect?.(error);
      this.#options.onError?.(error);
    });
    try {
      await Promise.race([client.connect(), timedOut]);
    } catch (error) {
      client.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
      failConnect = undefined;
    }
    if (this.#closed) {
      client.destroy();
      throw new Error("the Redis connection was closed while connecting");
    }
    this.#owned = client;
    this.#client = client;
    return client;
  }
}

function isReplyError(error: unknown): boolean {
  // Errors Redis itself answered (a script error, WRONGTYPE) are not connectivity problems.
  // node-redis throws subclasses (SimpleError, BlobError) of its ErrorReply: walk the chain.
  for (let proto: unknown = error; proto !== null && proto !== undefined; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === "ErrorReply") return true;
  }
  return false;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
