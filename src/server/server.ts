import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** Bounds on what a sender can hold before it is authenticated. */
export interface ServerLimits {
  /** Open connections at most; further ones are closed at once (`server.maxConnections`). @default 1024 */
  maxConnections?: number;
  /** Time to send the request headers, in ms. @default 5_000 */
  headersTimeoutMs?: number;
  /** Time to send the whole request, body included, in ms. @default 15_000 */
  requestTimeoutMs?: number;
  /** Idle time of a kept-alive connection between requests, in ms. @default 5_000 */
  keepAliveTimeoutMs?: number;
}

/** A node:http server for the bridge's listener with the limits applied. */
export function createBridgeServer(listener: (req: IncomingMessage, res: ServerResponse) => void, limits: ServerLimits = {}): Server {
  const requestTimeout = limits.requestTimeoutMs ?? 15_000;
  const headersTimeout = Math.min(limits.headersTimeoutMs ?? 5_000, requestTimeout);
  const server = createServer(
    {
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? 5_000,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
    },
    listener,
  );
  server.maxConnections = limits.maxConnections ?? 1024;
  return server;
}
