import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTestRedis, deleteByPrefix, uniquePrefix } from "../../test/support/redis.js";
import type { RedisCommands } from "./commands.js";
import type { RedisConnection } from "./connection.js";
import { RedisScript } from "./script.js";

let redis: RedisConnection;
const prefix = uniquePrefix("script");
const made: RedisScript[] = [];

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  for (const script of made) await redis.sendCommand(["FUNCTION", "DELETE", `autoplay_${script.sha}`]).catch(() => undefined);
  await deleteByPrefix(redis, prefix);
  await redis.close();
});

/** A script no other test or run shares (its helper counts calls in KEYS[1]). */
function counter(): RedisScript {
  const script = new RedisScript({
    chunk: `-- ${randomBytes(6).toString("hex")}\nlocal function bump(key, by) return redis.call('INCRBY', key, by) end`,
    body: "return bump(KEYS[1], tonumber(ARGV[1]))",
  });
  made.push(script);
  return script;
}

/** Records each command's name; answers `refuse` commands with `error` instead of sending them. */
class Recording implements RedisCommands {
  readonly sent: string[] = [];
  constructor(
    readonly refuse: readonly string[] = [],
    readonly error = "ERR unknown command 'FCALL', with args beginning with: ",
  ) {}
  async sendCommand(args: readonly string[]): Promise<unknown> {
    const name = args[0] === "FUNCTION" ? `FUNCTION ${args[1]}` : (args[0] as string);
    this.sent.push(name);
    if (this.refuse.includes(name)) throw new Error(this.error);
    return redis.sendCommand(args);
  }
}

describe("RedisScript as a Redis function", () => {
  it("loads its library on first use, then runs with one FCALL a call", async () => {
    const script = counter();
    const client = new Recording();
    expect(await script.run(client, [`${prefix}a`], [2])).toBe(2);
    expect(await script.run(client, [`${prefix}a`], [3])).toBe(5);
    expect(client.sent).toEqual(["FCALL", "FUNCTION LOAD", "FCALL", "FCALL"]);
    const libraries = JSON.stringify(await redis.sendCommand(["FUNCTION", "LIST", "LIBRARYNAME", `autoplay_${script.sha}`]));
    expect(libraries).toContain(`ap_${script.sha}`);
  });

  it("loads it again when Redis lost it (a restart without persistence, FUNCTION FLUSH)", async () => {
    const script = counter();
    expect(await script.run(redis, [`${prefix}b`], [1])).toBe(1);
    await redis.sendCommand(["FUNCTION", "DELETE", `autoplay_${script.sha}`]);
    expect(await script.run(redis, [`${prefix}b`], [1])).toBe(2);
  });

  it("two first calls at once both succeed (the second load finds the library there)", async () => {
    const script = counter();
    const results = await Promise.all([script.run(redis, [`${prefix}c`], [1]), script.run(redis, [`${prefix}c`], [1])]);
    expect([...results].sort()).toEqual([1, 2]);
  });

  it("calls that find the function missing at once share one load; another client's load finds it there", async () => {
    const script = counter();
    const client = new Recording();
    const results = await Promise.all(Array.from({ length: 20 }, () => script.run(client, [`${prefix}d`], [1])));
    expect([...results].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(client.sent.filter((c) => c === "FUNCTION LOAD")).toHaveLength(1);
    await redis.sendCommand(["FUNCTION", "DELETE", `autoplay_${script.sha}`]);
    const [one, other] = [new Recording(), new Recording()];
    await Promise.all([script.run(one, [`${prefix}d`], [1]), script.run(other, [`${prefix}d`], [1])]);
    expect([...one.sent, ...other.sent].filter((c) => c === "FUNCTION LOAD")).toHaveLength(2);
    expect(Number(await redis.sendCommand(["GET", `${prefix}d`]))).toBe(22);
  });

  it("runs as a plain script, from then on, on a Redis without functions or an ACL that refuses them", async () => {
    for (const [refuse, error] of [
      [["FCALL", "FUNCTION LOAD"], "ERR unknown command 'FCALL', with args beginning with: "],
      [["FUNCTION LOAD"], "NOPERM User app has no permissions to run the 'function|load' command"],
    ] as const) {
      const script = counter();
      const client = new Recording(refuse, error);
      expect(await script.run(client, [`${prefix}d`], [1])).toBeGreaterThan(0);
      expect(await script.run(client, [`${prefix}d`], [1])).toBeGreaterThan(0);
      expect(client.sent.filter((c) => c === "FCALL").length).toBe(1);
      expect(client.sent.slice(-1)).toEqual(["EVALSHA"]);
    }
  });

  it("a NOPERM about keys is the call's error, not a refusal of functions", async () => {
    const script = counter();
    const client = new Recording(["FCALL"], "NOPERM No permissions to access a key");
    await expect(script.run(client, [`${prefix}g`], [1])).rejects.toThrow(/NOPERM/);
    await expect(script.run(client, [`${prefix}g`], [1])).rejects.toThrow(/NOPERM/);
    expect(client.sent).toEqual(["FCALL", "FCALL"]);
  });

  it("passes the script's own errors through unchanged", async () => {
    const script = counter();
    await redis.sendCommand(["SET", `${prefix}e`, "not a number"]);
    await expect(script.run(redis, [`${prefix}e`], [1])).rejects.toThrow(/not an integer/);
    await expect(script.run(redis, [`${prefix}e`], [1])).rejects.toThrow(/not an integer/);
  });

  it("a plain source string stays a plain script (EVALSHA, EVAL when Redis does not know it)", async () => {
    const script = new RedisScript(`-- ${randomBytes(6).toString("hex")}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    const client = new Recording();
    expect(await script.run(client, [`${prefix}f`], [4])).toBe(4);
    expect(await script.run(client, [`${prefix}f`], [4])).toBe(8);
    expect(client.sent).toEqual(["EVALSHA", "EVAL", "EVALSHA"]);
    expect(script.functionName).toBeUndefined();
  });
});
