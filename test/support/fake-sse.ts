/**
 * A local stand-in for the connector's SSE stream (PLATFORMS.md "Connector"), for unit and
 * end-to-end tests: `GET /stream/<product>` with `Authorization: Bearer <token>` opens an event
 * stream the test writes to. A wrong or missing token answers 401, another path 404, like the
 * real connector.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";

/** Options of {@link startFakeConnector}. */
export interface FakeConnectorOptions {
  /** The bearer token the server accepts. */
  token: string;
  /** The product id in the stream path. @default "prod-test" */
  product?: string;
}

/** A status the server answers instead of opening a stream. */
export interface ForcedResponse {
  status: number;
  /** Extra response headers, e.g. `{ "retry-after": "1" }`. */
  headers?: Record<string, string>;
  /** Attempts answered this way before streaming resumes. @default every attempt until the next respondWith() */
  times?: number;
}

/** A running fake connector. */
export interface FakeConnector {
  /** `http://127.0.0.1:<port>/stream/<product>`. */
  readonly url: string;
  /** Streams opened so far (attempts answered with a forced status are not counted). */
  readonly connections: number;
  /** Streams open now. */
  readonly open: number;
  /** Every request received, streams and refusals alike, with its headers (lower-case keys). */
  readonly requests: readonly IncomingHttpHeaders[];
  /** Writes `payload` as one `data:` event to every open stream; returns how many got it. */
  send(payload: unknown, options?: { id?: string; event?: string }): number;
  /** Writes raw text (any SSE, or garbage) to every open stream; returns how many got it. */
  sendRaw(text: string): number;
  /** Writes an `event: heartbeat` frame to every open stream. */
  heartbeat(): number;
  /** Destroys every open stream's socket, as a crashed connector or a network cut would. */
  drop(): void;
  /** Makes the next attempts answer `status` instead of streaming; `respondWith(200)` restores streaming. */
  respondWith(status: number, options?: Omit<ForcedResponse, "status">): void;
  /** Resolves once `connections` reaches `count`. @throws after `timeoutMs` */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `requests.length` reaches `count`. @throws after `timeoutMs` */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once no stream is open. @throws after `timeoutMs` */
  waitForClosed(timeoutMs?: number): Promise<void>;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

/** Starts a fake connector on 127.0.0.1, on a free port. */
export async function startFakeConnector(options: FakeConnectorOptions): Promise<FakeConnector> {
  const path = `/stream/${options.product ?? "prod-test"}`;
  const streams = new Set<ServerResponse>();
  const requests: IncomingHttpHeaders[] = [];
  let forced: ForcedResponse | undefined;
  let connections = 0;

  const server = createServer((req, res) => {
    requests.push(req.headers);
    if (req.method !== "GET" || req.url !== path) return end(res, 404);
    if (req.headers.authorization !== `Bearer ${options.token}`) return end(res, 401);
    if (forced !== undefined) {
      const answer = forced;
      if (answer.times !== undefined && --answer.times <= 0) forced = undefined;
      return end(res, answer.status, answer.headers);
    }
    connections++;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    // Headers go out now: a client must see the stream open before the first event.
    res.flushHeaders();
    streams.add(res);
    res.on("close", () => streams.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake connector: no TCP address");

  const write = (text: string): number => {
    for (const res of streams) res.write(text);
    return streams.size;
  };
  return {
    url: `http://127.0.0.1:${address.port}${path}`,
    get connections() {
      return connections;
    },
    get open() {
      return streams.size;
    },
    requests,
    send: (payload, frame = {}) => write(`${frame.event ? `event: ${frame.event}\n` : ""}${frame.id ? `id: ${frame.id}\n` : ""}data: ${JSON.stringify(payload)}\n\n`),
    sendRaw: write,
    heartbeat: () => write("event: heartbeat\ndata: {}\n\n"),
    drop: () => {
      for (const res of streams) res.socket?.destroy();
    },
    respondWith: (status, more = {}) => {
      forced = status === 200 ? undefined : { status, ...more };
    },
    waitForConnections: (count, timeoutMs) => waitFor(() => connections >= count, () => `${count} connection(s), saw ${connections}`, timeoutMs),
    waitForRequests: (count, timeoutMs) => waitFor(() => requests.length >= count, () => `${count} request(s), saw ${requests.length}`, timeoutMs),
    waitForClosed: (timeoutMs) => waitFor(() => streams.size === 0, () => `every stream to close, ${streams.size} open`, timeoutMs),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function end(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain", ...headers });
  res.end(`fake connector: ${status}\n`);
}

/** Polls `predicate` every 5 ms. */
async function waitFor(predicate: () => boolean, what: () => string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`fake connector: timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
