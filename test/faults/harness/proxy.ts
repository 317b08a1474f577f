/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a stand-in platform, for faults the
 * stand-ins cannot play themselves: a platform that accepted a note but whose answer comes late
 * or never, and a request that hangs before the platform saw it.
 */
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What happens to one request. */
export type ProxyMove =
  | "pass"
  /** Never forwarded, never answered (until the proxy closes). */
  | "hold"
  /** Forwarded (the platform accepts it), but the answer is withheld until the proxy closes. */
  | "accept-then-hold"
  /** Forwarded (the platform accepts it), then the connection is reset instead of answering. */
  | "accept-then-reset"
  /** Forwarded; the answer is sent `ms` later. */
  | { delayAnswerMs: number }
  /** Forwarded `ms` late (the platform sees it only then), answered at once after that. */
  | { delayForwardMs: number };

export interface Proxy {
  readonly url: string;
  /** Requests seen, in order: method, path, the move applied. */
  readonly seen: Array<{ method: string; path: string; move: string; at: number }>;
  close(): Promise<void>;
}

/** `decide(path, nth)`: nth counts requests with the same path, from 1. */
export async function startProxy(target: string, decide: (req: { method: string; path: string }, nth: number) => ProxyMove): Promise<Proxy> {
  const seen: Proxy["seen"] = [];
  const perPath = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      const method = req.method ?? "GET";
      const nth = (perPath.get(path) ?? 0) + 1;
      perPath.set(path, nth);
      const move = decide({ method, path }, nth);
      seen.push({ method, path, move: typeof move === "string" ? move : JSON.stringify(move), at: Date.now() });
      if (move === "hold") return;
      if (typeof move === "object" && "delayForwardMs" in move) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!req.socket.destroyed) forward("pass");
        }, move.delayForwardMs);
        timers.add(timer);
        return;
      }
      forward(move);
    });
    function forward(move: "pass" | "accept-then-hold" | "accept-then-reset" | { delayAnswerMs: number }): void {
      const path = req.url ?? "/";
      const method = req.method ?? "GET";
      const upstream = httpRequest(`${target}${path}`, { method, headers: { ...req.headers, host: new URL(target).host } }, (answer: IncomingMessage) => {
        const body: Buffer[] = [];
        answer.on("data", (c: Buffer) => body.push(c));
        answer.on("end", () => {
          if (move === "accept-then-hold") return;
          if (move === "accept-then-reset") {
            req.socket.destroy();
            return;
          }
          const send = () => {
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          };
          if (move === "pass") send();
          else {
            const timer = setTimeout(() => {
              timers.delete(timer);
              send();
            }, move.delayAnswerMs);
            timers.add(timer);
          }
        });
      });
      upstream.on("error", () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    }
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      })),
  };
}
