/** `startBridge` in process: a bind failure is a `ListenError` naming the setting, and releases what it built. */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createJsonLogger } from "../server/logger.js";
import { ListenError, startBridge } from "./bridge.js";
import { loadConfig } from "./config.js";

const silent = createJsonLogger({ write: () => undefined });

describe("startBridge", () => {
  it("rejects a taken port with a ListenError naming PORT, then starts on a free one", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const error = await startBridge(loadConfig({ PORT: String(port) }), { logger: silent }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ListenError);
      expect(error).toMatchObject({ code: "EADDRINUSE", message: expect.stringContaining(`PORT=${port} is already in use`) as string });
      const bridge = await startBridge(loadConfig({ PORT: "0" }), { logger: silent });
      expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
      await bridge.close();
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
