import { PRELUDE } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/* The Redis delivery engine's intake and claim steps (keys and meta fields: lua-prelude.ts). */

export { CONFIRM, DEAD_LETTER, RETRY } from "./outcome-scripts.js";

/**
 * ARGV: sid, now, conv|"", cutoffSeconds, debounce, maxwait, ttl, dedupeWindowMs, maxDedupeIds,
 * preLinkWindowMs, then (dedupeId, ts, entry)… Returns {accepted, at, conv, flushed, trimmed,
 * duplicates, linked(0|1), lastSequence, duplicate positions…}: accepted actions are numbered in
 * the session (`aseq`), starting from the first write's time × 1000 so a number is never reused
 * for a session whose keys expired; each entry carries its number. The hot path: one HMGET of the session's state, one ZMSCORE per
 * thousand actions for dedupe.
 */
export const WRITE = new RedisScript(`${PRELUDE}
local sid, now, conv, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local window, max_ids, prewin = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local m = redis.call('HMGET', meta, 'conv', 'first', 'gone', 'aseq')
local stored, first, gone = m[1], m[2], m[3]
local aseq = tonumber(m[4] or '0') or 0
if aseq == 0 then aseq = math.floor(now) * 1000 end
local flushed, trimmed, linked = 0, 0, 0
-- A write may only make the first link (never to a conversation known to be gone); re-linking is
-- LINK's job, so a write from an instance that read an older session state cannot move it back.
if stored then
  conv = stored
elseif conv ~= '' and conv ~= gone then
  redis.call('HSET', meta, 'conv', conv)
  flushed, trimmed = move_pre_to_flush(cutoff)
  linked = 1
else
  conv = ''
end
local count = (#ARGV - 10) / 3
local known, remember = {}, max_ids > 0 and window > 0
if remember and count > 0 then
  -- An id accepted longer than the window ago is forgotten: no trim needed on the hot path (the
  -- count bound below drops the oldest first, and the key expires a window after the last write).
  local since = now - window
  local ids = {}
  for i = 0, count - 1 do ids[i + 1] = ARGV[11 + i * 3] end
  for i = 1, #ids, 1000 do
    local hits = redis.call('ZMSCORE', seen, unpack(ids, i, math.min(i + 999, #ids)))
    for k = 1, #hits do
      if hits[k] and tonumber(hits[k]) >= since then known[ids[i + k - 1]] = true end
    end
  end
end
local seq = 0
if conv == '' and count > 0 then seq = redis.call('HINCRBY', meta, 'seq', count) - count end
local fresh, added, duplicates, dups = {}, {}, 0, {}
for i = 0, count - 1 do
  local id, ts, entry = ARGV[11 + i * 3], ARGV[12 + i * 3], ARGV[13 + i * 3]
  if known[id] then
    duplicates = duplicates + 1
    dups[#dups + 1] = i
  else
    known[id] = true
    aseq = aseq + 1
    entry = string.sub(entry, 1, -2) .. ',' .. string.format('%d', aseq) .. ']'
    -- The caller's string, not a Lua number: formatting a float costs more than the rest of the
    -- dedupe step. Ids accepted in the same ms tie (and are forgotten in id order among themselves).
    added[#added + 1] = ARGV[2]
    added[#added + 1] = id
    if conv ~= '' then
      fresh[#fresh + 1] = entry
    else
      fresh[#fresh + 1] = ts
      fresh[#fresh + 1] = string.format('%016d', seq + i) .. entry
    end
  end
end
if remember and #added > 0 then
  call_all('ZADD', seen, added)
  -- Keeps the newest max_ids (an empty range when there are fewer): one call, no ZCARD.
  redis.call('ZREMRANGEBYRANK', seen, 0, -max_ids - 1)
  redis.call('PEXPIRE', seen, window)
end
local accepted = #added / 2
local last = string.format('%d', aseq)
if accepted > 0 and conv == '' then redis.call('HSET', meta, 'aseq', last) end
local at = -1
if conv ~= '' then
  if accepted > 0 then
    call_all('RPUSH', pending, fresh)
    -- One HSET for the sequence and the debounce times.
    if first then redis.call('HSET', meta, 'aseq', last, 'last', now) else redis.call('HSET', meta, 'aseq', last, 'last', now, 'first', now) end
    redis.call('PEXPIRE', pending, ttl)
  end
  redis.call('PEXPIRE', meta, ttl)
  if flushed > 0 then redis.call('PEXPIRE', flush, ttl) end
  at = reschedule(sid, now, debounce, maxwait)
else
  if accepted > 0 then call_all('ZADD', pre, fresh) end
  trimmed = trimmed + redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  expire_prelink(now, prewin, ttl, gone ~= false)
end
local reply = {accepted, at, conv, flushed, trimmed, duplicates, linked, last}
for i = 1, #dups do reply[#reply + 1] = dups[i] end
return reply
`);

/**
 * ARGV: sid, now, conv, cutoffSeconds, debounce, maxwait, ttl. Returns {flushed, at, trimmed}, or
 * {-1, -1, 0} when already linked there. Clears a remembered gone conversation.
 */
export const LINK = new RedisScript(`${PRELUDE}
local sid, now, conv, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local stored = redis.call('HGET', meta, 'conv')
if stored == conv then return {-1, -1, 0} end
redis.call('HSET', meta, 'conv', conv)
redis.call('HDEL', meta, 'gone')
local flushed, trimmed = 0, 0
if not stored then flushed, trimmed = move_pre_to_flush(cutoff) end
touch(ttl)
return {flushed, reschedule(sid, now, debounce, maxwait), trimmed}
`);

/**
 * ARGV: sid, now, claimId, leaseMs, maxActions, maxChars, debounce, maxwait, force(0|1), ttl.
 * Returns {1, kind, conv, attempt, noteId, heldSince, entries…} when this claim now holds the
 * lease (also when re-run with the same claim id after a lost reply), else {0, at}. A note whose
 * entries are still in `inflight` (frozen after a call that may have landed, or left by a crashed
 * holder) is claimed again as it is: same entries, same note id.
 */
export const CLAIM = new RedisScript(`${PRELUDE}
local sid, now, claim, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local max_actions, max_chars = tonumber(ARGV[5]), tonumber(ARGV[6])
local debounce, maxwait, force = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local m = redis.call('HMGET', meta, 'conv', 'lease', 'lease_until', 'retry_at')
local conv = m[1]
if not conv then
  redis.call('ZREM', due, sid)
  return {0, -1}
end
if m[2] ~= claim then
  if m[2] and (tonumber(m[3] or '0') or 0) > now then return {0, -2} end
  local retry_at = tonumber(m[4] or '0') or 0
  if retry_at > now then return {0, retry_at} end
  if redis.call('LLEN', inflight) == 0 then
    local kind, source
    if redis.call('LLEN', flush) > 0 then
      kind, source = 'flush', flush
    elseif summary_due() then
      kind = 'summary'
    elseif redis.call('LLEN', pending) > 0 then
      local due_at = math.min(num(meta, 'last') + debounce, num(meta, 'first') + maxwait)
      if not force and due_at > now then return {0, due_at} end
      kind, source = 'debounced', pending
    else
      return {0, reschedule(sid, now, debounce, maxwait)}
    end
    if kind == 'summary' then
      -- The summary note is one opaque item in inflight: retried frozen, confirmed like any note.
      redis.call('RPUSH', inflight, redis.call('LPOP', summaries))
      source = nil
    end
    local items = source and redis.call('LRANGE', source, 0, math.min(max_actions, 5000) - 1) or {}
    local take, chars = 0, 0
    for i = 1, #items do
      chars = chars + #items[i]
      if i > 1 and chars > max_chars then break end
      take = i
    end
    local taken = {}
    for i = 1, take do taken[i] = items[i] end
    if source then
      call_all('RPUSH', inflight, taken)
      redis.call('LTRIM', source, take, -1)
    end
    if kind == 'debounced' and redis.call('LLEN', pending) == 0 then redis.call('HDEL', meta, 'first', 'last') end
    redis.call('HSET', meta, 'kind', kind, 'note', claim)
  end
  if not redis.call('HGET', meta, 'note') then redis.call('HSET', meta, 'note', claim) end
  if not redis.call('HGET', meta, 'held') then redis.call('HSET', meta, 'held', now) end
end
redis.call('HSET', meta, 'lease', claim, 'lease_until', now + lease_ms)
redis.call('ZADD', due, now + lease_ms, sid)
touch(tonumber(ARGV[10]))
local f = redis.call('HMGET', meta, 'kind', 'fails', 'note', 'held')
local reply = {1, f[1] or 'debounced', conv, (tonumber(f[2] or '0') or 0) + 1, f[3], f[4]}
local entries = redis.call('LRANGE', inflight, 0, -1)
for i = 1, #entries do reply[#reply + 1] = entries[i] end
return reply
`);

/** ARGV: sid, claimId, now, leaseMs. Extends the lease of a claim whose call is still pending: {1} or {0} (lost). */
export const RENEW = new RedisScript(`${PRELUDE}
local sid, claim, now, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HGET', meta, 'lease') ~= claim then return {0} end
redis.call('HSET', meta, 'lease_until', now + lease_ms)
redis.call('ZADD', due, now + lease_ms, sid)
return {1}
`);

/** Returns the part ids and deletes them. */
export const TAKE_PARTS = new RedisScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids
`);
