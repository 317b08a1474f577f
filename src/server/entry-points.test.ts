/**
 * The package root is the library: importing it must not load the service's dependencies
 * (prom-client), which live behind `autoplay-chatbot-bridge/server`. Checked on the built
 * package (dist/) in a child process where prom-client cannot be resolved, as for a user who
 * never installed it.
 */
import { describe, expect, it } from "vitest";
import { runNode } from "./test-support/child-node.js";

/** Imports `specifier` in a child where prom-client is unresolvable; prints its export names. */
function importWithoutPromClient(specifier: string) {
  const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
  return runNode(["--input-type=module", "-e", script], { blocking: ["prom-client"] });
}

describe("entry points", () => {
  it("the root entry loads without prom-client and still exports the library", async () => {
    const { code, stdout, stderr } = await importWithoutPromClient("autoplay-chatbot-bridge");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const names = JSON.parse(stdout) as string[];
    expect(names).toEqual(expect.arrayContaining(["BaseChatbotWriter", "AutoplayChatbotManager", "IntercomWriter", "ZendeskWriter", "HttpBridgeWriter", "redisBackends", "ConnectorStream"]));
    // The service pieces moved to ./server.
    for (const moved of ["createBridgeApp", "createBridgeMetrics", "startBridge", "loadConfig", "InboxWriter", "sign"]) expect(names).not.toContain(moved);
  });

  it("the ./server entry needs prom-client (so the check above can fail), and exports the service", async () => {
    const blocked = await importWithoutPromClient("autoplay-chatbot-bridge/server");
    expect(blocked.code).not.toBe(0);
    expect(blocked.stderr).toContain("Cannot find package 'prom-client'");
    const { code, stdout } = await runNode(["--input-type=module", "-e", `console.log(JSON.stringify(Object.keys(await import("autoplay-chatbot-bridge/server"))))`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(
      expect.arrayContaining(["createBridgeApp", "createBridgeServer", "createBridgeMetrics", "startBridge", "loadConfig", "ConfigError", "createJsonLogger", "MemoryReplayGuard", "RedisReplayGuard", "sign", "InboxWriter", "openApiDocument"]),
    );
  });
});
