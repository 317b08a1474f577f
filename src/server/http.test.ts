import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { ByteBudget } from "./byte-budget.js";
import { ClientAbortError, readBody } from "./http.js";

it("readBody rejects at once for a request already destroyed, and gives its bytes back", async () => {
  const budget = new ByteBudget(1_000);
  const outcome = new Promise<unknown>((resolve) => {
    const server = createServer((req) => {
      // Read only once the request has closed: it emits nothing more.
      req.once("close", () => {
        readBody(req, 100, budget).then(resolve, resolve);
        server.close();
      });
      req.destroy();
    });
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      const client = request({ port, host: "127.0.0.1", method: "POST", headers: { "content-type": "application/json", "content-length": "2" } });
      client.on("error", () => undefined);
      client.end("{}");
    });
  });
  expect(await outcome).toBeInstanceOf(ClientAbortError);
  expect(budget.used).toBe(0);
});
