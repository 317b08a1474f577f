import { withPrelude } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/* The Redis delivery engine's intake and claim steps (keys and meta fields: lua-prelude.ts). */

export { CONFIRM, DEAD_LETTER, RETRY } from "./outcome-scripts.js";

/**
 * ARGV: sid, now, conv|"", cutoffSeconds, debounce, maxwait, ttl, dedupeWindowMs, maxDedupeIds,
 * preLinkWindowMs, then (dedupeId, ts, entry)… where each entry is `[ts, description` (JSON
 * without its closing bracket: WRITE closes it after the action's sequence number). Returns
 * {accepted, at, conv, flushed, trimmed, duplicates, linked(0|1), lastSequence, duplicate
 * positions…}: accepted actions are numbered in the session (`aseq`), starting from the first
 * write's time × 1000 so a number is never reused for a session whose keys expired; each entry
 * carries its number (`[ts, description, seq]`). The hot path: one HMGET of the session's state
 * (two for a linked session), one ZMSCORE and one ZADD per thousand actions for dedupe, one RPUSH
 * or ZADD of the entries, one HSET, and expiries set again only when they may have run short
 * (`seen_exp`, `ttl_at`, `pre_exp`).
 */
export const WRITE = new RedisScript(withPrelude(`
local sid, now, conv, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local debounce, maxwait, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local window, max_ids, prewin = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
-- What every write reads, and what an unlinked one needs, in one call; a linked write reads the
-- debounce and lease fields for its reschedule in a second (most writes are to unlinked sessions).
local m = redis.call('HMGET', meta, 'conv', 'aseq', 'seen_exp', 'gone', 'seq', 'pre_top', 'pre_seq', 'pre_exp')
local stored, gone = m[1], m[4]
local aseq = tonumber(m[2] or '0') or 0
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
  -- count bound below drops the oldest first, and the key expires one to two windows after the last write).
  local since = now - window
  local ids = {}
  for i = 0, count - 1 do ids[i + 1] = ARGV[11 + i * 3] end
  for i = 1, #ids, 1000 do
    local hits = redis.call('ZMSCORE', seen, unpack(ids, i, math.min(i + 999, #ids)))
    for k = 1, #hits do
      -- math.abs: earlier builds scored by the time itself.
      if hits[k] and math.abs(tonumber(hits[k])) >= since then known[ids[i + k - 1]] = true end
    end
  end
end
local seq = tonumber(m[5] or '0') or 0
-- The newest timestamp among the accepted pre-link actions.
local batch_top = 0
local fresh, added, duplicates, dups = {}, {}, 0, {}
for i = 0, count - 1 do
  local id, ts, entry = ARGV[11 + i * 3], ARGV[12 + i * 3], ARGV[13 + i * 3]
  if known[id] then
    duplicates = duplicates + 1
    dups[#dups + 1] = i
  else
    known[id] = true
    aseq = aseq + 1
    -- Scored by minus the time accepted, so a new id goes in at the head of the set (Redis scans a
    -- small sorted set from its head to insert), from the caller's string: formatting a float
    -- costs more than the rest of the dedupe step. Ids accepted in the same ms tie (and are
    -- forgotten in reverse id order among themselves).
    added[#added + 1] = '-' .. ARGV[2]
    added[#added + 1] = id
    if conv ~= '' then
      fresh[#fresh + 1] = string.format('%s,%d]', entry, aseq)
    else
      fresh[#fresh + 1] = ts
      fresh[#fresh + 1] = string.format('%016d%s,%d]', seq + i, entry, aseq)
      batch_top = math.max(batch_top, tonumber(ts) or 0)
    end
  end
end
local accepted = #added / 2
local last = string.format('%d', aseq)
-- What changed in meta, written by one HSET at the end.
local fields = {}
if accepted > 0 then fields = {'aseq', last} end
if conv == '' and count > 0 then
  -- Pre-link members are numbered by count, so a batch's members stay unique and in order.
  fields[#fields + 1] = 'seq'
  fields[#fields + 1] = seq + count
end
if remember and accepted > 0 then
  local _, new_ids = call_all('ZADD', seen, added)
  local size = redis.call('ZCARD', seen)
  -- The key must outlive every id it holds by a window: set to two windows, it needs setting
  -- again only once less than a window is left (seen_exp, in meta: when it expires, so an
  -- instance with a longer window sets it sooner), or when this write created it (it holds only
  -- what this write added: it had expired, or was evicted, while meta lived on).
  local seen_exp = tonumber(m[3] or '0') or 0
  if size == new_ids or seen_exp - now < window or seen_exp - now > 2 * window then
    redis.call('PEXPIRE', seen, 2 * window)
    fields[#fields + 1] = 'seen_exp'
    fields[#fields + 1] = now + 2 * window
  end
  -- Keeps the newest max_ids: the lowest scores.
  if size > max_ids then redis.call('ZREMRANGEBYRANK', seen, max_ids, -1) end
end
local at = -1
if conv ~= '' then
  local l = redis.call('HMGET', meta, 'first', 'lease', 'lease_until', 'last', 'retry_at', 'ttl_at')
  local first = l[1]
  -- A linked session's keys expire keep_for(ttl) after they were last set, so they need setting
  -- again only once slack_of(ttl) has passed since this step last did (ttl_at): every key then
  -- outlives the session's last activity by at least ttl. A write that links sets them now.
  local ttl_at = tonumber(l[6] or '0') or 0
  local refresh = linked == 1 or ttl_due(now, ttl, ttl_at)
  if accepted > 0 then
    local length = call_all('RPUSH', pending, fresh)
    -- A list Redis just created (its length is what this write pushed) has no expiry yet.
    if not refresh and length == #fresh then redis.call('PEXPIRE', pending, keep_for(ttl)) end
    fields[#fields + 1] = 'last'
    fields[#fields + 1] = now
    l[4] = now
    if not first then
      first = now
      fields[#fields + 1] = 'first'
      fields[#fields + 1] = now
    end
  end
  if refresh then
    -- Every linked key, as claim and confirm do: ttl_at says all of them were set now.
    touch(ttl)
    fields[#fields + 1] = 'ttl_at'
    fields[#fields + 1] = ARGV[2]
  end
  if #fields > 0 then redis.call('HSET', meta, unpack(fields)) end
  at = reschedule(sid, now, debounce, maxwait, {l[2], l[3], conv, first, l[4], l[5]}, accepted > 0)
else
  -- pre_top: the newest timestamp pre has held (high after a trim, which only keeps the keys a
  -- little longer), valid while seq is still pre_seq. Anything else that adds to pre moves seq on
  -- (a gone conversation's actions going back, an instance of an earlier release), and then the
  -- newest is read from pre.
  local top = tonumber(m[6] or '')
  local top_known = top ~= nil and tonumber(m[7] or '') == seq
  -- pre_exp, when not 0, is the expiry a write set on a pre it knew to exist. With the newest
  -- action still in the window, that pre is still there, expiring then.
  local pre_exp = tonumber(m[8] or '0') or 0
  local held = top_known and top >= cutoff and pre_exp > 0
  if accepted > 0 then
    local _, new_members = call_all('ZADD', pre, fresh)
    -- A pre this write created (it holds only what it added: it expired, or was evicted, while
    -- meta lived on) has no expiry, whatever meta recorded of the one before.
    if held and redis.call('ZCARD', pre) == new_members then held = false end
  end
  if top_known then top = math.max(top, batch_top) else top = newest_pre() end
  trimmed = trimmed + redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  fields[#fields + 1] = 'pre_top'
  fields[#fields + 1] = top
  fields[#fields + 1] = 'pre_seq'
  fields[#fields + 1] = seq + count
  -- The keys already last long enough for the newest action (and meta exists): no expiry to set.
  local set = gone or not held or prelink_until(top, prewin) > pre_exp
  if set then
    -- Recorded only when pre surely exists after this write (it held one, or an action of this
    -- batch survived the trim); else 0, and the next write sets the expiry again. So a write whose
    -- trim may have emptied pre, or a clock a second behind another instance's, never leaves a
    -- pre that a later ZADD creates without an expiry.
    fields[#fields + 1] = 'pre_exp'
    fields[#fields + 1] = (held or (accepted > 0 and batch_top >= cutoff)) and prelink_expiry(now, prewin, ttl, top) or 0
  end
  -- Before the expiry: an HSET that creates meta would leave it without one.
  redis.call('HSET', meta, unpack(fields))
  if set then expire_prelink(now, prewin, ttl, gone ~= false, top) end
end
local reply = {accepted, at, conv, flushed, trimmed, duplicates, linked, last}
for i = 1, #dups do reply[#reply + 1] = dups[i] end
return reply
`));

/**
 * ARGV: sid, now, conv, cutoffSeconds, debounce, maxwait, ttl. Returns {flushed, at, trimmed}, or
 * {-1, -1, 0} when already linked there. Clears a remembered gone conversation.
 */
export const LINK = new RedisScript(withPrelude(`
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
`));

/**
 * ARGV: sid, now, claimId, leaseMs, maxActions, maxChars, debounce, maxwait, force(0|1), ttl.
 * Returns {1, kind, conv, attempt, noteId, heldSince, entries…} when this claim now holds the
 * lease (also when re-run with the same claim id after a lost reply), else {0, at}. A note whose
 * entries are still in `inflight` (frozen after a call that may have landed, or left by a crashed
 * holder) is claimed again as it is: same entries, same note id.
 */
export const CLAIM = new RedisScript(withPrelude(`
local sid, now, claim, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local max_actions, max_chars = tonumber(ARGV[5]), tonumber(ARGV[6])
local debounce, maxwait, force = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local m = redis.call('HMGET', meta, 'conv', 'lease', 'lease_until', 'retry_at', 'kind', 'fails', 'note', 'held', 'last', 'first', 'ttl_at')
local conv, kind, note, held = m[1], m[5], m[7], m[8]
-- The lease and what this claim adds to the note, written by one HSET.
local fields = {'lease', claim, 'lease_until', now + lease_ms}
if not conv then
  redis.call('ZREM', due, sid)
  return {0, -1}
end
if m[2] ~= claim then
  if m[2] and (tonumber(m[3] or '0') or 0) > now then return {0, -2} end
  local retry_at = tonumber(m[4] or '0') or 0
  if retry_at > now then return {0, retry_at} end
  if redis.call('LLEN', inflight) == 0 then
    local source
    if redis.call('LLEN', flush) > 0 then
      kind, source = 'flush', flush
    elseif summary_due() then
      kind = 'summary'
    elseif redis.call('LLEN', pending) > 0 then
      local due_at = math.min((tonumber(m[9] or '0') or 0) + debounce, (tonumber(m[10] or '0') or 0) + maxwait)
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
    fields[#fields + 1] = 'kind'
    fields[#fields + 1] = kind
    note = nil
  end
  if not note then
    note = claim
    fields[#fields + 1] = 'note'
    fields[#fields + 1] = note
  end
  if not held then
    held = ARGV[2]
    fields[#fields + 1] = 'held'
    fields[#fields + 1] = held
  end
end
redis.call('HSET', meta, unpack(fields))
redis.call('ZADD', due, now + lease_ms, sid)
touch_written(now, tonumber(ARGV[10]), tonumber(m[11] or '0') or 0, {inflight})
local reply = {1, kind or 'debounced', conv, (tonumber(m[6] or '0') or 0) + 1, note, held}
local entries = redis.call('LRANGE', inflight, 0, -1)
for i = 1, #entries do reply[#reply + 1] = entries[i] end
return reply
`));

/** ARGV: sid, claimId, now, leaseMs. Extends the lease of a claim whose call is still pending: {1} or {0} (lost). */
export const RENEW = new RedisScript(withPrelude(`
local sid, claim, now, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HGET', meta, 'lease') ~= claim then return {0} end
redis.call('HSET', meta, 'lease_until', now + lease_ms)
redis.call('ZADD', due, now + lease_ms, sid)
return {1}
`));

/** Returns the part ids and deletes them. */
export const TAKE_PARTS = new RedisScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids
`);
