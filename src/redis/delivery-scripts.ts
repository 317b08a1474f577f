import { RedisScript } from "./script.js";

/*
 * The Redis delivery engine's atomic steps. Every script gets the same keys, in this order:
 *   KEYS[1] meta     HASH  conv, first, last (ms), fails, retry_at, lease, lease_until, kind, seq
 *   KEYS[2] pre      ZSET  pre-link actions, score = timestamp_start, member = 16-digit seq .. entry
 *   KEYS[3] flush    LIST  the at-link flush note's entries (sorted by time)
 *   KEYS[4] pending  LIST  post-link entries waiting for their debounce
 *   KEYS[5] inflight LIST  entries claimed by the lease holder, kept until the platform confirms
 *   KEYS[6] parts    LIST  ids of delivered notes
 *   KEYS[7] seen     SET   dedupe ids of accepted actions (a payload delivered twice counts once)
 *   KEYS[8] due      ZSET  (shared) session id -> when it next needs a look, ms
 *   KEYS[9] dead     LIST  (shared) dead letters, JSON, capped
 * Entries are opaque JSON strings `[timestamp_start, description]` made by the client.
 * Times are the callers' epoch ms (instances' clocks must agree to well under the lease margin).
 */

const PRELUDE = `
local meta, pre, flush, pending, inflight, parts, seen, due, dead =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

-- Variadic commands in slices: Lua's unpack() cannot spread more than a few thousand values.
local function call_all(command, key, values)
  for i = 1, #values, 1000 do
    redis.call(command, key, unpack(values, i, math.min(i + 999, #values)))
  end
end

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0') or 0
end

-- When the session next needs a look (or -1 for never), recorded in the shared due set.
local function reschedule(sid, now, debounce, maxwait)
  local m = redis.call('HMGET', meta, 'lease', 'lease_until', 'conv', 'first', 'last', 'retry_at')
  local lease_until = tonumber(m[2] or '0') or 0
  if m[1] and lease_until > now then
    redis.call('ZADD', due, lease_until, sid)
    return lease_until
  end
  local at = -1
  if not m[3] then
    at = -1
  elseif redis.call('LLEN', inflight) > 0 or redis.call('LLEN', flush) > 0 then
    at = now
  elseif redis.call('LLEN', pending) > 0 then
    at = math.min((tonumber(m[5] or '0') or 0) + debounce, (tonumber(m[4] or '0') or 0) + maxwait)
  end
  if at < 0 then
    redis.call('ZREM', due, sid)
    return -1
  end
  at = math.max(at, tonumber(m[6] or '0') or 0)
  redis.call('ZADD', due, at, sid)
  return at
end

-- First link: the pre-link window becomes the flush note.
local function move_pre_to_flush(cutoff)
  redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  local members = redis.call('ZRANGE', pre, 0, -1)
  local entries = {}
  for i = 1, #members do entries[i] = string.sub(members[i], 17) end
  call_all('RPUSH', flush, entries)
  redis.call('DEL', pre)
  return #members
end

-- The claimed note is finished (delivered or dead-lettered): release the lease, reset the count.
local function finish_note()
  redis.call('DEL', inflight)
  redis.call('HDEL', meta, 'lease', 'lease_until', 'kind', 'retry_at')
  redis.call('HSET', meta, 'fails', 0)
end

local function touch(ttl)
  for _, key in ipairs({meta, pre, flush, pending, inflight, parts, seen}) do
    redis.call('PEXPIRE', key, ttl)
  end
end
`;

/**
 * ARGV: sid, now, conv|"", cutoffSeconds, debounce, maxwait, ttl, then (dedupeId, ts, entry)…
 * The hot path: one HMGET of the session's state, one membership check for the whole batch.
 */
export const WRITE = new RedisScript(`${PRELUDE}
local sid, now, conv, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local m = redis.call('HMGET', meta, 'conv', 'first')
local stored, first = m[1], m[2]
local flushed = 0
-- A write may only make the first link; re-linking is LINK's job, so a write from an instance
-- that read an older session state cannot move the session back.
if stored then
  conv = stored
elseif conv ~= '' then
  redis.call('HSET', meta, 'conv', conv)
  flushed = move_pre_to_flush(cutoff)
end
local count = (#ARGV - 7) / 3
local ids = {}
for i = 0, count - 1 do
  if ARGV[8 + i * 3] ~= '' then ids[#ids + 1] = ARGV[8 + i * 3] end
end
local known = {}
if #ids > 0 then
  for i = 1, #ids, 1000 do
    local hits = redis.call('SMISMEMBER', seen, unpack(ids, i, math.min(i + 999, #ids)))
    for k = 1, #hits do
      if hits[k] == 1 then known[ids[i + k - 1]] = true end
    end
  end
  call_all('SADD', seen, ids)
  redis.call('PEXPIRE', seen, ttl)
end
local seq = 0
if conv == '' and count > 0 then seq = redis.call('HINCRBY', meta, 'seq', count) - count end
local fresh = {}
for i = 0, count - 1 do
  local id, ts, entry = ARGV[8 + i * 3], ARGV[9 + i * 3], ARGV[10 + i * 3]
  if id == '' or not known[id] then
    known[id] = true
    if conv ~= '' then
      fresh[#fresh + 1] = entry
    else
      fresh[#fresh + 1] = ts
      fresh[#fresh + 1] = string.format('%016d', seq + i) .. entry
    end
  end
end
local accepted, trimmed = #fresh, 0
if conv ~= '' then
  if accepted > 0 then
    call_all('RPUSH', pending, fresh)
    if first then redis.call('HSET', meta, 'last', now) else redis.call('HSET', meta, 'last', now, 'first', now) end
    redis.call('PEXPIRE', pending, ttl)
  end
else
  accepted = accepted / 2
  if accepted > 0 then call_all('ZADD', pre, fresh) end
  trimmed = redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  redis.call('PEXPIRE', pre, ttl)
end
redis.call('PEXPIRE', meta, ttl)
if flushed > 0 then redis.call('PEXPIRE', flush, ttl) end
local at = -1
if conv ~= '' then at = reschedule(sid, now, debounce, maxwait) end
return {accepted, at, conv, flushed, trimmed}
`);

/** ARGV: sid, now, conv, cutoffSeconds, debounce, maxwait, ttl. Returns {flushed, at} or {-1, -1} when already linked there. */
export const LINK = new RedisScript(`${PRELUDE}
local sid, now, conv, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local stored = redis.call('HGET', meta, 'conv')
if stored == conv then return {-1, -1} end
redis.call('HSET', meta, 'conv', conv)
local flushed = 0
if not stored then flushed = move_pre_to_flush(cutoff) end
touch(ttl)
return {flushed, reschedule(sid, now, debounce, maxwait)}
`);

/**
 * ARGV: sid, now, token, leaseMs, maxActions, maxChars, debounce, maxwait, force(0|1), ttl.
 * Returns {1, kind, conv, attempt, entries…} when this caller now holds the lease, else {0, at}.
 */
export const CLAIM = new RedisScript(`${PRELUDE}
local sid, now, token, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local max_actions, max_chars = tonumber(ARGV[5]), tonumber(ARGV[6])
local debounce, maxwait, force = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local conv = redis.call('HGET', meta, 'conv')
if not conv then
  redis.call('ZREM', due, sid)
  return {0, -1}
end
if redis.call('HGET', meta, 'lease') and num(meta, 'lease_until') > now then return {0, -2} end
if num(meta, 'retry_at') > now then return {0, num(meta, 'retry_at')} end
local kind
if redis.call('LLEN', inflight) > 0 then
  kind = redis.call('HGET', meta, 'kind') or 'debounced'
else
  local source
  if redis.call('LLEN', flush) > 0 then
    kind, source = 'flush', flush
  elseif redis.call('LLEN', pending) > 0 then
    local due_at = math.min(num(meta, 'last') + debounce, num(meta, 'first') + maxwait)
    if not force and due_at > now then return {0, due_at} end
    kind, source = 'debounced', pending
  else
    redis.call('ZREM', due, sid)
    return {0, -1}
  end
  local items = redis.call('LRANGE', source, 0, math.min(max_actions, 5000) - 1)
  local take, chars = 0, 0
  for i = 1, #items do
    chars = chars + #items[i]
    if i > 1 and chars > max_chars then break end
    take = i
  end
  local taken = {}
  for i = 1, take do taken[i] = items[i] end
  call_all('RPUSH', inflight, taken)
  redis.call('LTRIM', source, take, -1)
  if kind == 'debounced' and redis.call('LLEN', pending) == 0 then redis.call('HDEL', meta, 'first', 'last') end
  redis.call('HSET', meta, 'kind', kind)
end
redis.call('HSET', meta, 'lease', token, 'lease_until', now + lease_ms)
redis.call('ZADD', due, now + lease_ms, sid)
touch(tonumber(ARGV[10]))
local reply = {1, kind, conv, num(meta, 'fails') + 1}
local entries = redis.call('LRANGE', inflight, 0, -1)
for i = 1, #entries do reply[#reply + 1] = entries[i] end
return reply
`);

/** ARGV: sid, token, now, debounce, maxwait, partId|"", ttl. Returns {1, at} or {0} if the lease was lost. */
export const CONFIRM = new RedisScript(`${PRELUDE}
local sid, token, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, part, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if redis.call('HGET', meta, 'lease') ~= token then return {0} end
finish_note()
if part ~= '' then redis.call('RPUSH', parts, part) end
touch(ttl)
return {1, reschedule(sid, now, debounce, maxwait)}
`);

/**
 * ARGV: sid, token, now, debounce, maxwait, retryAt, counted(0|1), ttl. The claimed entries go back ahead of newer
 * ones; the note is due again at retryAt with everything pending. Returns {1, at} or {0}.
 */
export const RETRY = new RedisScript(`${PRELUDE}
local sid, token, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, retry_at = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('HGET', meta, 'lease') ~= token then return {0} end
local target = pending
if redis.call('HGET', meta, 'kind') == 'flush' then target = flush end
-- LPUSH of the claimed entries in reverse puts them back in their original order, at the head.
local items = redis.call('LRANGE', inflight, 0, -1)
local reversed = {}
for i = #items, 1, -1 do reversed[#reversed + 1] = items[i] end
call_all('LPUSH', target, reversed)
redis.call('DEL', inflight)
if target == pending then redis.call('HSET', meta, 'first', 0, 'last', 0) end
if ARGV[7] == '1' then redis.call('HINCRBY', meta, 'fails', 1) end
redis.call('HSET', meta, 'retry_at', retry_at)
redis.call('HDEL', meta, 'lease', 'lease_until', 'kind')
touch(tonumber(ARGV[8]))
return {1, reschedule(sid, now, debounce, maxwait)}
`);

/** ARGV: sid, token, now, debounce, maxwait, letterJson, maxDead. Returns {1, at} or {0}. */
export const DEAD_LETTER = new RedisScript(`${PRELUDE}
local sid, token, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local debounce, maxwait, letter, max_dead = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if redis.call('HGET', meta, 'lease') ~= token then return {0} end
finish_note()
redis.call('RPUSH', dead, letter)
redis.call('LTRIM', dead, -max_dead, -1)
return {1, reschedule(sid, now, debounce, maxwait)}
`);

/** Returns the part ids and deletes them. */
export const TAKE_PARTS = new RedisScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids
`);
