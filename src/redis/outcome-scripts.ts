import { withPrelude } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/*
 * The outcome steps of a claimed note. Each is idempotent per claim id: run again after it ran
 * (its reply was lost), it finds its claim id in `done` and answers as the first run did, without
 * doing anything twice. {0} means the lease was lost to another holder before the step ran.
 */

/**
 * ARGV: sid, claimId, now, debounce, maxwait, partId|"", ttl, conv, lo, hi. Records the note (its
 * part id and, for summaries, which actions it carried: lo..hi). A confirmed summary moves its
 * snapshot's notes of `conv` to the redaction queue (the others back to the records). Returns
 * {1, at, redactionsQueued} or {0}.
 */
export const CONFIRM = new RedisScript(withPrelude(`
local sid, claim, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, part, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local conv, lo, hi = ARGV[8], ARGV[9], ARGV[10]
local held = redis.call('HMGET', meta, 'lease', 'kind', 'conv', 'first', 'last', 'ttl_at')
if held[1] ~= claim then
  local outcome = find_done(claim)
  if outcome then return {1, reschedule(sid, now, debounce, maxwait), tonumber(string.match(outcome, '^c (%d+)$') or '0')} end
  return {0}
end
local queued = 0
-- The keys this step writes (touch_written sets their expiry).
local written = {done}
if held[2] == 'summary' then
  local summary = cjson.decode(redis.call('LINDEX', inflight, 0))
  for _, record in ipairs(summary.snap) do
    local r = cjson.decode(record)
    if r[2] == conv then
      redis.call('RPUSH', redacts, cjson.encode({r[2], r[1]}))
      queued = queued + 1
    else
      redis.call('RPUSH', notes, record)
    end
  end
  written[#written + 1] = redacts
  written[#written + 1] = notes
  lo, hi = '-1', '-1'
else
  redis.call('HINCRBY', meta, 'settled', redis.call('LLEN', inflight))
end
finish_note()
if part ~= '' then
  redis.call('RPUSH', parts, part)
  redis.call('RPUSH', notes, '[' .. cjson.encode(part) .. ',' .. cjson.encode(conv) .. ',' .. lo .. ',' .. hi .. ']')
  written[#written + 1] = parts
  written[#written + 1] = notes
end
record_done(claim, 'c ' .. queued)
touch_written(now, ttl, tonumber(held[6] or '0') or 0, written)
-- finish_note cleared the lease and the retry time; conv, first and last are as read.
return {1, reschedule(sid, now, debounce, maxwait, {false, false, held[3], held[4], held[5], false}), queued}
`));

/**
 * ARGV: sid, claimId, now, debounce, maxwait, retryAt, counted(0|1), frozen(0|1), ttl. A frozen
 * note (its call may have landed) stays in `inflight` as it is, to be posted again with the same
 * body and key; otherwise its entries go back ahead of newer ones, and the next claim may merge
 * them into a new note. Due again at retryAt. Returns {1, at} or {0}.
 */
export const RETRY = new RedisScript(withPrelude(`
local sid, claim, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, retry_at = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('HGET', meta, 'lease') ~= claim then
  if find_done(claim) then return {1, reschedule(sid, now, debounce, maxwait)} end
  return {0}
end
if ARGV[8] ~= '1' then
  local target = pending
  if redis.call('HGET', meta, 'kind') == 'flush' then target = flush end
  -- LPUSH of the claimed entries in reverse puts them back in their original order, at the head.
  local items = redis.call('LRANGE', inflight, 0, -1)
  local reversed = {}
  for i = #items, 1, -1 do reversed[#reversed + 1] = items[i] end
  call_all('LPUSH', target, reversed)
  redis.call('DEL', inflight)
  if target == pending then redis.call('HSET', meta, 'first', 0, 'last', 0) end
  redis.call('HDEL', meta, 'kind', 'note')
end
if ARGV[7] == '1' then redis.call('HINCRBY', meta, 'fails', 1) end
redis.call('HSET', meta, 'retry_at', retry_at)
redis.call('HDEL', meta, 'lease', 'lease_until')
record_done(claim, 'r')
touch(tonumber(ARGV[9]))
return {1, reschedule(sid, now, debounce, maxwait)}
`));

/**
 * ARGV: sid, claimId, now, debounce, maxwait, letterJson, maxDead, maxDeadBytes, gone(0|1),
 * cutoffSeconds, preLinkWindowMs, ttl. Finishes the note, appends the letter to the shared list
 * (evicting the oldest past either bound) and, when the conversation is gone, unlinks the session:
 * its flush and pending entries go back to the pre-link buffer (window-trimmed) and the
 * conversation is remembered as gone. A summary note's snapshot goes back to the records.
 * Returns {1, at, evicted, buffered, trimmed, deadLength, restoredSnapshot} or {0}.
 */
export const DEAD_LETTER = new RedisScript(withPrelude(`
local sid, claim, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, letter = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local max_dead, max_bytes, gone = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local cutoff, prewin, ttl = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
if redis.call('HGET', meta, 'lease') ~= claim then
  local outcome = find_done(claim)
  if not outcome then return {0} end
  local e, b, t, r = string.match(outcome, '^d (%d+) (%d+) (%d+) (%d+)$')
  return {1, reschedule(sid, now, debounce, maxwait), tonumber(e), tonumber(b), tonumber(t), redis.call('LLEN', dead), tonumber(r)}
end
local restored = 0
if redis.call('HGET', meta, 'kind') == 'summary' then
  -- Never confirmed: nothing is redacted, its snapshot goes back to the records (oldest first).
  local summary = cjson.decode(redis.call('LINDEX', inflight, 0))
  for i = #summary.snap, 1, -1 do redis.call('LPUSH', notes, summary.snap[i]) end
  restored = #summary.snap
else
  redis.call('HINCRBY', meta, 'settled', redis.call('LLEN', inflight))
end
finish_note()
redis.call('RPUSH', dead, letter)
local bytes = redis.call('INCRBY', deadbytes, #letter)
local length, evicted = redis.call('LLEN', dead), 0
while length > 0 and (length > max_dead or bytes > max_bytes) do
  local old = redis.call('LPOP', dead)
  bytes = redis.call('DECRBY', deadbytes, #old)
  length, evicted = length - 1, evicted + 1
end
local buffered, trimmed = 0, 0
if gone then
  local c = redis.call('HGET', meta, 'conv')
  -- pre_top goes too: the entries moved back to pre below may be newer than it.
  redis.call('HDEL', meta, 'conv', 'first', 'last', 'retry_at', 'pre_top')
  if c then redis.call('HSET', meta, 'gone', c) end
  local entries = redis.call('LRANGE', flush, 0, -1)
  local later = redis.call('LRANGE', pending, 0, -1)
  for i = 1, #later do entries[#entries + 1] = later[i] end
  redis.call('DEL', flush, pending)
  add_pre(entries)
  trimmed = redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  buffered = redis.call('ZCARD', pre)
  touch(ttl)
  expire_prelink(now, prewin, ttl, true, newest_pre())
else
  touch(ttl)
end
record_done(claim, 'd ' .. evicted .. ' ' .. buffered .. ' ' .. trimmed .. ' ' .. restored)
return {1, reschedule(sid, now, debounce, maxwait), evicted, buffered, trimmed, length, restored}
`));
