/**
 * The load generator of `npm run bench:http` where wrk is not installed: `connections`
 * keep-alive connections, each sending POST /events back to back for `seconds`, with the same
 * payloads as bench/http-load.lua (3 actions a request, spread over `sessions` sessions). Prints one JSON line:
 * requests, non-2xx, errors, req/s and latency percentiles in ms.
 */
import { Agent, request } from "node:http";
import { createHistogram } from "node:perf_hooks";

const [url = "http://127.0.0.1:18900", secondsText = "10", connectionsText = "32", sessionsText = "1000"] = process.argv.slice(2);
const seconds = Number(secondsText);
const connections = Number(connectionsText);
const sessions = Number(sessionsText);
const target = new URL("/events", url);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const latency = createHistogram();
let counter = 0;
let completed = 0;
let non2xx = 0;
let errors = 0;

function body(): string {
  counter++;
  const t = Math.floor(Date.now() / 1000);
  const actions: string[] = [];
  for (let k = 0; k < 3; k++) {
    const i = counter * 3 + k;
    actions.push(`{"index":${i},"type":"click","title":"Button","description":"Clicked button ${i}","canonical_url":"https://app.example.com/p","raw_url":"https://app.example.com/p?x=1","timestamp_start":${t}}`);
  }
  return `{"type":"actions","product_id":"load","session_id":"load-${counter % sessions}","actions":[${actions.join(",")}]}`;
}

function send(): Promise<void> {
  const payload = body();
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = request(target, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on("end", () => {
        latency.record(Number(process.hrtime.bigint() - started) || 1);
        completed++;
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx++;
        resolve();
      });
    });
    req.on("error", () => {
      errors++;
      resolve();
    });
    req.end(payload);
  });
}

async function loop(deadline: number): Promise<void> {
  while (performance.now() < deadline) await send();
}

const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(Array.from({ length: connections }, () => loop(deadline)));
const elapsed = (performance.now() - started) / 1000;
agent.destroy();
const ms = (p: number) => latency.percentile(p) / 1e6;
process.stdout.write(`${JSON.stringify({ requests: completed, non2xx, errors, reqPerSec: completed / elapsed, p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), maxMs: latency.max / 1e6 })}\n`);
