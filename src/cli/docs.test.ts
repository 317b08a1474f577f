/** The operator docs list every setting as the code has it: `.env.example` and the README's configuration table. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../server/test-support/child-node.js";
import { flagOf, loadConfig, SETTINGS, type SettingName } from "./config.js";

const NAMES = Object.keys(SETTINGS) as SettingName[];
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** The repository's files: git's list, or (no git, e.g. an unpacked tarball) the tree without what .gitignore names. */
function trackedFiles(): string[] {
  try {
    return execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n");
  } catch {
    const ignored = /^(node_modules|dist|coverage|\.git|\.bench-.*)$/;
    return (readdirSync(ROOT, { recursive: true }) as string[]).filter((f) => !ignored.test(f.split("/")[0] ?? ""));
  }
}

describe("docs of the API", () => {
  const readme = read("README.md");

  it("the writer options table has a row per option of ChatbotWriterOptions", () => {
    const source = read("src/writer/options.ts");
    const body = /export interface ChatbotWriterOptions[^{]*\{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
    const options = [...body.matchAll(/^ {2}(?:readonly )?([a-zA-Z]+)\??:/gm)].map((m) => m[1] as string);
    expect(options.length).toBeGreaterThan(15);
    const table = readme.slice(readme.indexOf("### Writer options"));
    for (const option of options) expect(table, option).toMatch(new RegExp(`^\\| \`${option}\`( / \`[a-zA-Z]+\`)? \\||^\\| \`[a-zA-Z]+\` / \`${option}\` \\|`, "m"));
  });

  it("the layout covers every folder of the repository", () => {
    const files = trackedFiles();
    // Top-level folders, and the folders under src/ and test/ (test-support/ is described once, in general).
    const folders = new Set(files.map((f) => f.split("/")).filter((p) => p.length > 1).map((p) => (p[0] === "src" || p[0] === "test") && p.length > 2 ? `${p[0]}/${p[1]}` : (p[0] as string)));
    const layout = readme.slice(readme.indexOf("### Layout"));
    for (const folder of [...folders].filter((f) => f !== "src" && f !== "test")) expect(layout, folder).toContain(`| \`${folder}/\``);
  });

  it("the service table names every value the ./server entry exports", async () => {
    const server = (await import("../server/index.js")) as Record<string, unknown>;
    const table = readme.slice(readme.indexOf("### The service"), readme.indexOf("### Writer options"));
    for (const name of Object.keys(server)) expect(table, name).toContain(`\`${name}`);
  });
});

describe("docs of the settings", () => {
  it(".env.example lists every setting once, with its default, and loads as the defaults do", () => {
    const lines = read(".env.example").split("\n");
    const entries = lines.filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l)).map((l) => l.split("=", 2) as [string, string]);
    expect(entries.map(([name]) => name).sort()).toEqual([...NAMES].sort());
    for (const [name, value] of entries) expect([name, value]).toEqual([name, SETTINGS[name as SettingName].default ?? ""]);
    // Every entry has its comment on the line above.
    for (const [name] of entries) expect(lines[lines.findIndex((l) => l.startsWith(`${name}=`)) - 1]).toMatch(/^# /);
    expect(loadConfig(Object.fromEntries(entries))).toEqual(loadConfig({}));
  });

  it("the README's configuration table has a row per setting with its flag and default", () => {
    const readme = read("README.md");
    for (const name of NAMES) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(`| \`${flagOf(name)}\` |`);
      const fallback = SETTINGS[name].default;
      if (fallback !== undefined) expect(row, name).toContain(`| \`${fallback}\` |`);
    }
  });
});
