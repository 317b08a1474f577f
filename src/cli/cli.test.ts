/**
 * The built CLI (`node dist/cli/main.js`, as `npm test` builds it first): what an operator sees
 * for each mistake, without a bridge running.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../server/test-support/child-node.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

describe("autoplay-bridge: the command line", () => {
  it("--version and -v print the package's version and exit 0", async () => {
    for (const flag of ["--version", "-v"]) {
      const { code, stdout } = await runCli([flag]);
      expect([flag, code, stdout]).toEqual([flag, 0, `${VERSION}\n`]);
    }
  });

  it("--help prints the usage with every setting on stdout and exits 0", async () => {
    const { code, stdout } = await runCli(["serve", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: autoplay-bridge serve \[--demo\] \[flags\]/);
    expect(stdout).toMatch(/--redis-url\s+REDIS_URL/);
  });

  it.each([
    [["srve"], 'unknown command "srve"'],
    [[], "no command given"],
    [["serve", "--prot", "9000"], "unknown flag --prot"],
    [["serve", "--port"], "--port needs a value"],
    [["serve", "extra"], 'unexpected argument "extra" after serve'],
    [["serve", "--version=yes"], "--version takes no value"],
  ])("%j says what is wrong, shows the usage on stderr and exits 2", async (args, what) => {
    const { code, stdout, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.split("\n")[0]).toBe(`autoplay-bridge: ${what}`);
    expect(stderr).toContain("Usage: autoplay-bridge serve [--demo] [flags]");
  });

  it("reports every missing or bad setting in one error, one line each, and exits 2", async () => {
    const { code, stderr } = await runCli(["serve", "--log-level", "loud"], { PORT: "http", DESTINATION: "zendesk", ZENDESK_EMAIL: "a@z.example", MAX_CONNECTIONS: "0" });
    expect(code).toBe(2);
    const named = [...stderr.matchAll(/^autoplay-bridge: invalid setting ([A-Z_]+): /gm)].map((m) => m[1]);
    expect(named).toEqual(["PORT", "MAX_CONNECTIONS", "LOG_LEVEL", "ZENDESK_API_BASE", "ZENDESK_API_TOKEN", "CONNECTOR_SECRET", "ZENDESK_WEBHOOK_SECRET"]);
    expect(stderr).toMatch(/^autoplay-bridge: 7 settings to fix/m);
  });
});

describe("autoplay-bridge serve: start failures", () => {
  it("names PORT when the port is taken", async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    const { code, stderr } = await runCli(["serve"], { PORT: String(port) });
    expect(code).toBe(1);
    expect(stderr).toContain(`autoplay-bridge: cannot listen on HOST=127.0.0.1 PORT=${port} (EADDRINUSE): PORT=${port} is already in use`);
  });

  it("names HOST when it is not an address of this machine", async () => {
    const { code, stderr } = await runCli(["serve", "--host", "192.0.2.1", "--allow-unsigned", "true"], { PORT: "0" });
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot listen on HOST=192\.0\.2\.1 PORT=0 \(EADDRNOTAVAIL\): HOST=192\.0\.2\.1 is not an address of this machine: set HOST/);
  });

  it("with REDIS_URL but without the optional @redis/client, says how to install it", async () => {
    const { code, stderr } = await runCli(["serve"], { PORT: "0", REDIS_URL: "redis://127.0.0.1:6379" }, ["@redis/client"]);
    expect(code).toBe(2);
    expect(stderr).toContain("invalid setting REDIS_URL: is set, but the optional package @redis/client is not installed: run `npm install @redis/client`");
  });
});
