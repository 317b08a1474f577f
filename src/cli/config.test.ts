import { describe, expect, it } from "vitest";
import { ConfigError, flagOf, loadConfig, secretsOf } from "./config.js";

describe("loadConfig", () => {
  it("runs on embedded defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8787, host: "127.0.0.1", destination: "inbox", redisUrl: undefined, productId: "default" });
    expect(config.intercom).toMatchObject({ apiBase: "https://api.intercom.io", version: "2.16", sessionAttribute: "session_id" });
  });

  it("turns summaries on with LLM_BASE_URL and keeps the key out of the logs", () => {
    expect(loadConfig({}).summaries).toEqual({ llmBaseUrl: undefined, llmApiKey: undefined, llmModel: "gpt-4o-mini", llmTimeoutMs: 60_000, threshold: 20 });
    const config = loadConfig({ LLM_BASE_URL: "http://127.0.0.1:11434/v1/", LLM_API_KEY: "sk-1", LLM_MODEL: "llama3.1", SUMMARY_THRESHOLD: "6" });
    expect(config.summaries).toMatchObject({ llmBaseUrl: "http://127.0.0.1:11434/v1", llmModel: "llama3.1", threshold: 6 });
    expect(secretsOf(config)).toContain("sk-1");
    expect(() => loadConfig({ LLM_BASE_URL: "ftp://x" })).toThrow(/LLM_BASE_URL/);
    expect(() => loadConfig({ SUMMARY_THRESHOLD: "0" })).toThrow(/SUMMARY_THRESHOLD/);
    expect(() => loadConfig({ LLM_TIMEOUT_MS: "soon" })).toThrow(/LLM_TIMEOUT_MS/);
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

  it("reports every missing or bad setting in one error, not only the first", () => {
    const error = refusal({ PORT: "x", LOG_LEVEL: "loud", DESTINATION: "intercom", HEADERS_TIMEOUT_MS: "20000", REQUEST_TIMEOUT_MS: "10000" });
    expect(error?.problems.map((p) => p.setting)).toEqual(["PORT", "LOG_LEVEL", "INTERCOM_TOKEN", "INTERCOM_ADMIN_ID", "HEADERS_TIMEOUT_MS", "CONNECTOR_SECRET", "INTERCOM_CLIENT_SECRET"]);
    expect(error?.setting).toBe("PORT");
    expect(error?.message.split("\n")).toHaveLength(7);
    // A destination that is itself bad is reported, and its secrets are not judged against a guess.
    expect(refusal({ DESTINATION: "slack", HOST: "0.0.0.0" })?.problems.map((p) => p.setting)).toEqual(["DESTINATION"]);
  });

  it("lists every secret for log redaction, and never puts a URL password in an error", () => {
    expect(secretsOf(loadConfig({ LINK_TOKEN: "lt", CONNECTOR_SECRET: "cs", ADMIN_TOKEN: "at" }))).toEqual(["cs", "lt", "at"]);
    expect(() => loadConfig({ REDIS_URL: "ftp://user:hunter2@host" })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ ZENDESK_API_BASE: "not a url with hunter2" })).toThrow(ConfigError);
  });
});

const INTERCOM = { DESTINATION: "intercom", INTERCOM_TOKEN: "t", INTERCOM_ADMIN_ID: "1" };
const ZENDESK = { DESTINATION: "zendesk", ZENDESK_API_BASE: "https://z.example", ZENDESK_EMAIL: "a@z.example", ZENDESK_API_TOKEN: "zt" };

function refusal(env: Record<string, string>): ConfigError | undefined {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return undefined;
}

describe("exposure (secure by default)", () => {
  it("mounts only the destination's webhook route", () => {
    expect(loadConfig({ ...INTERCOM, INTERCOM_CLIENT_SECRET: "s", CONNECTOR_SECRET: "c" }).exposure.webhooks).toEqual(["intercom"]);
    expect(loadConfig({ ...ZENDESK, ZENDESK_WEBHOOK_SECRET: "s", CONNECTOR_SECRET: "c" }).exposure.webhooks).toEqual(["zendesk"]);
    expect(loadConfig({ DESTINATION: "http", HTTP_BRIDGE_URL: "https://b.example", CONNECTOR_SECRET: "c" }).exposure.webhooks).toEqual([]);
    expect(loadConfig({}).exposure.webhooks).toEqual(["intercom"]);
  });

  it.each([
    [{ ...INTERCOM, CONNECTOR_SECRET: "c" }, "INTERCOM_CLIENT_SECRET"],
    [{ ...INTERCOM, INTERCOM_CLIENT_SECRET: "s" }, "CONNECTOR_SECRET"],
    [{ ...ZENDESK, CONNECTOR_SECRET: "c" }, "ZENDESK_WEBHOOK_SECRET"],
    [{ DESTINATION: "http", HTTP_BRIDGE_URL: "https://b.example" }, "CONNECTOR_SECRET"],
    [{ HOST: "0.0.0.0" }, "CONNECTOR_SECRET"],
    [{ HOST: "0.0.0.0", CONNECTOR_SECRET: "c" }, "INTERCOM_CLIENT_SECRET"],
  ])("refuses to start with a mounted route that has no secret: %o", (env, setting) => {
    const error = refusal(env);
    expect(error?.setting).toBe(setting);
    expect(error?.message).toMatch(/unsigned requests \(ALLOW_UNSIGNED=true/);
  });

  it("starts unsigned with ALLOW_UNSIGNED=true, or as the inbox default on loopback", () => {
    const allowed = loadConfig({ ...ZENDESK, ALLOW_UNSIGNED: "true" }).exposure;
    expect(allowed).toMatchObject({ allowUnsigned: true, loopback: true });
    expect(allowed.unsigned.map((u) => u.setting)).toEqual(["CONNECTOR_SECRET", "ZENDESK_WEBHOOK_SECRET"]);
    for (const host of ["127.0.0.1", "localhost", "::1", "127.0.0.5"]) expect(loadConfig({ HOST: host }).exposure).toMatchObject({ allowUnsigned: true, loopback: true });
    expect(loadConfig({ HOST: "0.0.0.0", ALLOW_UNSIGNED: "true" }).exposure).toMatchObject({ allowUnsigned: true, loopback: false });
    expect(refusal({ ALLOW_UNSIGNED: "yes" })?.setting).toBe("ALLOW_UNSIGNED");
  });

  it("does not mount POST /events in pull mode unless CONNECTOR_SECRET signs it", () => {
    const pull = { ...INTERCOM, INTERCOM_CLIENT_SECRET: "s", CONNECTOR_STREAM_URL: "https://c.example/stream/p", CONNECTOR_TOKEN: "ct" };
    expect(loadConfig(pull).exposure).toMatchObject({ events: false, unsigned: [] });
    expect(loadConfig({ ...pull, CONNECTOR_SECRET: "c" }).exposure.events).toBe(true);
  });

  it("validates the resource limits", () => {
    expect(loadConfig({}).maxInFlightBytes).toBe(32 * 1024 * 1024);
    expect(loadConfig({ MAX_BODY_BYTES: String(32 * 1024 * 1024) }).maxInFlightBytes).toBe(64 * 1024 * 1024);
    expect(refusal({ MAX_INFLIGHT_BYTES: "2048", MAX_BODY_BYTES: "4096" })?.setting).toBe("MAX_INFLIGHT_BYTES");
    expect(refusal({ HEADERS_TIMEOUT_MS: "20000", REQUEST_TIMEOUT_MS: "10000" })?.setting).toBe("HEADERS_TIMEOUT_MS");
    expect(refusal({ MAX_CONNECTIONS: "0" })?.setting).toBe("MAX_CONNECTIONS");
    expect(loadConfig({ CONNECTOR_SILENCE_TIMEOUT_MS: "30000" }).connectorSilenceTimeoutMs).toBe(30_000);
  });
});
