#!/usr/bin/env bash
# Load on POST /events from a second process (wrk) on loopback, 30 s per configuration:
# in memory, then with Redis. Prints requests/s and latency percentiles. Needs wrk
# (Debian: apt-get install wrk) and, for the Redis run, Redis at REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${LOAD_DURATION:-30s}"
command -v wrk >/dev/null || { echo "http load: wrk is not installed (Debian: apt-get install wrk)"; exit 0; }
npm run -s build

run() {
  local label="$1"; shift
  local port=18900
  env "$@" PORT=$port LOG_LEVEL=warn node dist/cli/main.js serve 2>/tmp/bridge-load.log &
  local pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "== $label"
  wrk -t1 -c32 -d"$duration" --latency -s bench/http-load.lua "http://127.0.0.1:$port" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
  kill -TERM "$pid"; wait "$pid" || true
}

run "in memory"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
prefix="bench-http-$$"
if redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  run "with Redis" REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix:"
  redis-cli -u "$redis_url" --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -u "$redis_url" unlink >/dev/null
else
  echo "== with Redis: skipped, no Redis at $redis_url"
fi
