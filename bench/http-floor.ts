/**
 * The floor of `npm run bench:http`: a bare node:http server that reads the body, `JSON.parse`s
 * it and answers 202. Nothing the bridge does can be faster on this machine. With a second
 * argument it also spins that many µs per request: the calibration line, showing what a fixed
 * amount of work per request costs against the floor here.
 */
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 18_900);
const spinMs = Number(process.argv[3] ?? 0) / 1000;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { session_id?: string };
    for (const until = performance.now() + spinMs; performance.now() < until; );
    const body = JSON.stringify({ status: "accepted", session_id: payload.session_id });
    res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
