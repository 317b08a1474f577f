import { describe, expect, it } from "vitest";
import { ConfigError, flagOf, loadConfig, secretsOf } from "./config.js";

describe("loadConfig", () => {
  it("runs on embedded defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8787, host: "127.0.0.1", destination: "inbox", redisUrl: undefined, productId: "default" });
    expect(config.intercom).toMatchObject({ apiBase: "https://api.intercom.io", version: "2.14", sessionAttribute: "session_id" });
  });

  it("takes flags over environment variables", () => {
    expect(loadConfig({ PORT: "9000" }, { PORT: "9001" }).port).toBe(9001);
    expect(flagOf("INTERCOM_SESSION_ATTRIBUTE")).toBe("--intercom-session-attribute");
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ DESTINATION: "slack" }, "DESTINATION"],
    [{ REDIS_URL: "localhost:6379" }, "REDIS_URL"],
    [{ DESTINATION: "intercom", INTERCOM_TOKEN: "t" }, "INTERCOM_ADMIN_ID"],
    [{ DESTINATION: "zendesk" }, "ZENDESK_API_BASE"],
    [{ DESTINATION: "http" }, "HTTP_BRIDGE_URL"],
    [{ CONNECTOR_STREAM_URL: "https://c.example/stream/p" }, "CONNECTOR_TOKEN"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
  ])("names the bad setting: %o", (env, setting) => {
    const error = (() => {
      try {
        loadConfig(env);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe(setting);
    expect((error as ConfigError).message).toMatch(new RegExp(`^${setting}: `));
  });

  it("lists every secret for log redaction, and never puts a URL password in an error", () => {
    expect(secretsOf(loadConfig({ LINK_TOKEN: "lt", CONNECTOR_SECRET: "cs" }))).toEqual(["cs", "lt"]);
    expect(() => loadConfig({ REDIS_URL: "ftp://user:hunter2@host" })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ ZENDESK_API_BASE: "not a url with hunter2" })).toThrow(ConfigError);
  });
});
