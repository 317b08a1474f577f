import { withPrelude } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/*
 * The summary overwrite step in Redis (docs/summaries.md): the snapshot and the queued summary
 * note (SUMMARIZE), then the redactions, one claim at a time per session across instances
 * (REDACT_CLAIM, REDACT_DONE). Records, snapshots and pending redactions live in the session's
 * keys, so they survive a restart and every instance sees them.
 */

/**
 * ARGV: sid, now, body, ranges ("from-to,from-to"…, or ""), latestActions (0: use ranges),
 * debounce, maxwait, ttl, summaryId. Takes the snapshot (the session's records in its
 * conversation whose lo..hi lies in one range), queues the summary after what the session owes
 * now. Idempotent per summary id (a re-run after a lost reply answers as the first run). Returns
 * {1, snapshotSize, at} or {0} when the session has no conversation.
 */
export const SUMMARIZE = new RedisScript(withPrelude(`
local sid, now, body = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local latest, debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local prior = find_done(ARGV[9])
if prior then return {1, tonumber(string.match(prior, '^s (%d+)$') or '0'), reschedule(sid, now, debounce, maxwait)} end
local m = redis.call('HMGET', meta, 'conv', 'aseq', 'settled', 'kind')
local conv = m[1]
if not conv then return {0} end
local ranges = {}
if latest > 0 then
  local last = tonumber(m[2] or '0') or 0
  if last > 0 then ranges[1] = {math.max(1, last - latest + 1), last} end
else
  for from, to in string.gmatch(ARGV[4], '(%d+)-(%d+)') do ranges[#ranges + 1] = {tonumber(from), tonumber(to)} end
end
local keep, snap = {}, {}
for _, record in ipairs(redis.call('LRANGE', notes, 0, -1)) do
  local r = cjson.decode(record)
  local covered = false
  if r[2] == conv and r[3] >= 1 then
    for _, range in ipairs(ranges) do
      if range[1] <= r[3] and r[4] <= range[2] then covered = true end
    end
  end
  if covered then snap[#snap + 1] = cjson.encode(record) else keep[#keep + 1] = record end
end
if #snap > 0 then
  redis.call('DEL', notes)
  call_all('RPUSH', notes, keep)
end
local owed = redis.call('LLEN', flush) + redis.call('LLEN', pending)
if m[4] ~= 'summary' then owed = owed + redis.call('LLEN', inflight) end
local after = (tonumber(m[3] or '0') or 0) + owed
redis.call('RPUSH', summaries, '{"after":' .. string.format('%d', after) .. ',"body":' .. cjson.encode(body) .. ',"snap":[' .. table.concat(snap, ',') .. ']}')
record_done(ARGV[9], 's ' .. #snap)
touch(ttl)
return {1, #snap, reschedule(sid, now, debounce, maxwait)}
`));

/**
 * ARGV: sid, now, claimId, leaseMs, ttl. Claims the head redaction: {1, conv, partId, attempt,
 * heldSince} (also when re-run with the same claim id); {0, 1} when another claim holds it or it
 * is not due yet; {0, 0} when there is none.
 */
export const REDACT_CLAIM = new RedisScript(withPrelude(`
local sid, now, claim, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local m = redis.call('HMGET', meta, 'rlease', 'rlease_until', 'rretry_at', 'rfails', 'rheld')
if m[1] ~= claim then
  if m[1] and (tonumber(m[2] or '0') or 0) > now then return {0, 1} end
  if (tonumber(m[3] or '0') or 0) > now then return {0, 1} end
end
local head = redis.call('LINDEX', redacts, 0)
if not head then
  redis.call('HDEL', meta, 'rlease', 'rlease_until')
  return {0, 0}
end
if not m[5] then redis.call('HSET', meta, 'rheld', now) end
redis.call('HSET', meta, 'rlease', claim, 'rlease_until', now + lease_ms)
redis.call('ZADD', due, 'LT', now + lease_ms, sid)
touch(tonumber(ARGV[5]))
local r = cjson.decode(head)
return {1, r[1], r[2], (tonumber(m[4] or '0') or 0) + 1, tonumber(m[5] or now)}
`));

/**
 * ARGV: sid, claimId, now, outcome ("done" | "retry" | "retry-held"), retryAt, debounce, maxwait,
 * ttl. "done" (redacted or given up) removes the head; a retry keeps it, due at retryAt ("retry"
 * also counts a failure). Idempotent per claim id. Returns {1, at} or {0} (the claim was lost).
 */
export const REDACT_DONE = new RedisScript(withPrelude(`
local sid, claim, now, outcome = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local retry_at, debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('HGET', meta, 'rlease') ~= claim then
  if find_done(claim) then return {1, reschedule(sid, now, debounce, maxwait)} end
  return {0}
end
if outcome == 'done' then
  redis.call('LPOP', redacts)
  redis.call('HDEL', meta, 'rfails', 'rheld', 'rretry_at')
else
  if outcome == 'retry' then redis.call('HINCRBY', meta, 'rfails', 1) end
  redis.call('HSET', meta, 'rretry_at', retry_at)
end
redis.call('HDEL', meta, 'rlease', 'rlease_until')
record_done(claim, 'x')
touch(ttl)
return {1, reschedule(sid, now, debounce, maxwait)}
`));
