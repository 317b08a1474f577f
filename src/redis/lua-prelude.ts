import type { ScriptSource } from "./script.js";

/*
 * The Lua shared by every delivery script. Every script gets the same keys, in this order:
 *   KEYS[1]  meta      HASH  the session's delivery state (fields below)
 *   KEYS[2]  pre       ZSET  pre-link actions, score = timestamp_start, member = 16-digit seq .. entry
 *   KEYS[3]  flush     LIST  the at-link flush note's entries (sorted by time)
 *   KEYS[4]  pending   LIST  post-link entries waiting for their debounce
 *   KEYS[5]  inflight  LIST  the claimed note's entries, kept until its outcome is recorded
 *   KEYS[6]  parts     LIST  ids of delivered notes
 *   KEYS[7]  seen      ZSET  (`…:dedupe`) dedupe ids of accepted actions, score = minus when accepted (ms)
 *   KEYS[8]  done      LIST  "claimId outcome" of the last few finished claims (replays of an outcome step)
 *   KEYS[9]  due       ZSET  (shared) session id -> when it next needs a look, ms
 *   KEYS[10] dead      LIST  (shared) dead letters, JSON, bounded by count and bytes
 *   KEYS[11] deadbytes STRING (shared) total bytes of `dead`
 *   KEYS[12] notes     LIST  delivered notes with ids, JSON `[partId, conv, lo, hi]` (lo/hi: the
 *                            sequence range of the note's actions; lo 0: unknown; -1: a summary)
 *   KEYS[13] summaries LIST  queued summary notes, JSON `{"after": n, "body": "…", "snap": [record…]}`
 *   KEYS[14] redact    LIST  parts to redact after a confirmed summary, JSON `[conv, partId]`
 * meta fields: conv (linked conversation), gone (a conversation that answered "gone"), first/last
 * (first and last post-link arrival of the pending note, ms), seen_exp (when the dedupe key
 * expires, ms), ttl_at (when a step last
 * set every linked key's expiry, ms), fails (failed posts of the head
 * note), retry_at (not before, ms), lease (claim id of the holder), lease_until (ms), kind (of the
 * claimed note), note (the claimed note's id: its idempotency key), held (the note's first try, ms),
 * seq (pre-link member counter), pre_top/pre_seq (the newest pre-link
 * timestamp, or above it, valid while seq is still pre_seq), pre_exp (when the unlinked keys expire, ms; 0: unknown), aseq (the session's last action sequence number), settled
 * (actions delivered or dead-lettered: a summary waits for `after`), rlease/rlease_until (the
 * redaction claim), rfails/rheld/rretry_at (the head redaction's failures, first try, not before).
 * Entries are JSON strings `[timestamp_start, description, seq]`: the client sends `[ts, description`
 * and WRITE appends the action's sequence number and the closing bracket.
 * Times are the callers' epoch ms (instances' clocks must agree to well under the lease margin).
 */
const KEY_NAMES = "meta, pre, flush, pending, inflight, parts, seen, done, due, dead, deadbytes, notes, summaries, redacts";
/** Binds the key names to this call's KEYS (locals declared once, beside the helpers that use them). */
const BIND_KEYS = `${KEY_NAMES} =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]`;

const HELPER_SOURCE = `
-- Whether the head summary may be posted: what the session owed when it was queued has settled.
local function summary_due()
  local head = redis.call('LINDEX', summaries, 0)
  if not head then return false end
  return (tonumber(redis.call('HGET', meta, 'settled') or '0') or 0) >= (tonumber(string.match(head, '^{"after":(%d+)')) or 0)
end

-- Variadic commands in slices: Lua's unpack() cannot spread more than a few thousand values.
-- Returns the last slice's reply (RPUSH: the list's length) and the sum of the replies (ZADD: how
-- many members were new).
local function call_all(command, key, values)
  local reply, sum = 0, 0
  for i = 1, #values, 1000 do
    reply = redis.call(command, key, unpack(values, i, math.min(i + 999, #values)))
    sum = sum + reply
  end
  return reply, sum
end

-- A linked session's keys expire keep_for(ttl) after a step last set them: ttl plus a slack
-- (ttl / 64), so WRITE needs to set them again only once the slack has passed.
local function slack_of(ttl)
  return math.floor(ttl / 64)
end

local function keep_for(ttl)
  return ttl + slack_of(ttl)
end

-- Whether every linked key's expiry must be set again: the slack has passed since a step last did
-- (meta.ttl_at), or that time is in the future (another instance's clock).
local function ttl_due(now, ttl, ttl_at)
  return now - ttl_at >= slack_of(ttl) or ttl_at > now
end

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0') or 0
end

-- When the session next needs a look (or -1 for never), recorded in the shared due set. A caller
-- that already read the meta fields passes them as m ({lease, lease_until, conv, first, last,
-- retry_at}, as they are now) and, when it just pushed to pending, has_pending: no reads repeated.
local function reschedule(sid, now, debounce, maxwait, m, has_pending)
  m = m or redis.call('HMGET', meta, 'lease', 'lease_until', 'conv', 'first', 'last', 'retry_at')
  local lease_until = tonumber(m[2] or '0') or 0
  if m[1] and lease_until > now then
    redis.call('ZADD', due, lease_until, sid)
    return lease_until
  end
  local at = -1
  -- Redis deletes a list once it is empty, so one EXISTS over the four lists answers the common
  -- case (none of them) in one call.
  local busy = redis.call('EXISTS', inflight, flush, summaries, redacts) > 0
  local extra = busy and redis.call('EXISTS', summaries, redacts) > 0
  if not m[3] then
    at = -1
  elseif busy and (redis.call('EXISTS', inflight, flush) > 0 or (extra and summary_due())) then
    at = now
  elseif has_pending or redis.call('LLEN', pending) > 0 then
    at = math.min((tonumber(m[5] or '0') or 0) + debounce, (tonumber(m[4] or '0') or 0) + maxwait)
  end
  if at >= 0 then at = math.max(at, tonumber(m[6] or '0') or 0) end
  if extra and redis.call('LLEN', redacts) > 0 then
    -- Redactions run beside the notes: the session needs a look when the head one may be tried.
    local r = redis.call('HMGET', meta, 'rlease_until', 'rretry_at')
    local rat = math.max(now, tonumber(r[1] or '0') or 0, tonumber(r[2] or '0') or 0)
    if at < 0 or rat < at then at = rat end
  end
  if at < 0 then
    redis.call('ZREM', due, sid)
    return -1
  end
  redis.call('ZADD', due, at, sid)
  return at
end

-- First link: the pre-link window becomes the flush note. Returns moved, trimmed.
local function move_pre_to_flush(cutoff)
  local trimmed = redis.call('ZREMRANGEBYSCORE', pre, '-inf', '(' .. cutoff)
  local members = redis.call('ZRANGE', pre, 0, -1)
  local entries = {}
  for i = 1, #members do entries[i] = string.sub(members[i], 17) end
  call_all('RPUSH', flush, entries)
  redis.call('DEL', pre)
  return #members, trimmed
end

-- Adds entries to the pre-link buffer, in order, after what is there.
local function add_pre(entries)
  if #entries == 0 then return end
  local seq = redis.call('HINCRBY', meta, 'seq', #entries) - #entries
  local scored = {}
  for i = 1, #entries do
    scored[#scored + 1] = string.match(entries[i], '^%[([^,]*),')
    scored[#scored + 1] = string.format('%016d', seq + i - 1) .. entries[i]
  end
  call_all('ZADD', pre, scored)
end

-- When an unlinked session's keys may go (ms): once its newest pre-link action (top, seconds; 0:
-- none) has left the window, plus a second.
local function prelink_until(top, window)
  return math.floor(top * 1000 + window) + 1000
end

-- When expire_prelink makes them go (ms): a 16th of the window later than they may, so a write
-- whose newest action moved on by less than that needs to set nothing; never later than the TTL.
local function prelink_expiry(now, window, ttl, top)
  local at = now + 1000
  if top > 0 then at = math.max(at, prelink_until(top, window) + math.floor(window / 16)) end
  return math.min(at, now + ttl)
end

-- An unlinked session's keys live as long as its newest pre-link action stays in the window
-- (see prelink_expiry), never the full TTL; meta keeps the TTL when it remembers a gone
-- conversation. top: the newest pre-link timestamp (seconds), or one above it (0: pre is empty).
local function expire_prelink(now, window, ttl, keep_meta, top)
  local keep = prelink_expiry(now, window, ttl, top) - now
  redis.call('PEXPIRE', pre, keep)
  if keep_meta then redis.call('PEXPIRE', meta, keep_for(ttl)) else redis.call('PEXPIRE', meta, keep) end
end

-- The newest pre-link timestamp (seconds; 0: pre is empty).
local function newest_pre()
  return tonumber(redis.call('ZRANGE', pre, -1, -1, 'WITHSCORES')[2] or '0') or 0
end

-- The claimed note is finished (delivered or dead-lettered): release the lease, forget the note.
local function finish_note()
  redis.call('DEL', inflight)
  -- An absent fails reads as 0.
  redis.call('HDEL', meta, 'lease', 'lease_until', 'kind', 'retry_at', 'note', 'held', 'fails')
end

-- Outcome steps remember their claim id, so a step re-run after a lost reply gets the same answer.
local function record_done(claim, outcome)
  if redis.call('LPUSH', done, claim .. ' ' .. outcome) > 8 then redis.call('LTRIM', done, 0, 7) end
end

local function find_done(claim)
  local items = redis.call('LRANGE', done, 0, -1)
  local prefix = claim .. ' '
  for i = 1, #items do
    if string.sub(items[i], 1, #prefix) == prefix then return string.sub(items[i], #prefix + 1) end
  end
  return nil
end

-- Sets the expiry of a linked session's keys (each step that creates one of them calls it).
local function touch(ttl)
  local keep = keep_for(ttl)
  for _, key in ipairs({meta, flush, pending, inflight, parts, done, notes, summaries, redacts}) do
    redis.call('PEXPIRE', key, keep)
  end
end

-- touch() once a slack has passed since a step last did (ttl_at: meta's, read by the caller),
-- else only the keys this step wrote (which it may have created): every key keeps outliving the
-- session's last activity by at least ttl, for one call where touch() makes nine.
local function touch_written(now, ttl, ttl_at, written)
  if ttl_due(now, ttl, ttl_at) then
    touch(ttl)
    redis.call('HSET', meta, 'ttl_at', now)
    return
  end
  local keep = keep_for(ttl)
  for _, key in ipairs(written) do redis.call('PEXPIRE', key, keep) end
end
`;

/** Each helper (its comment and its function), in order. */
const HELPERS = HELPER_SOURCE.trim().split(/\n\n/).map((code) => {
  const name = /local function (\w+)\(/.exec(code)?.[1];
  if (name === undefined) throw new Error(`a prelude piece without a helper (no blank lines inside one): ${code.slice(0, 60)}`);
  return { name, code };
});

/**
 * A delivery script: the key names, the helpers `body` calls (and those they call), then `body`
 * with the key names bound to this call's KEYS. Lua builds a closure for every local function
 * each time the code defining it runs: as a Redis function (see RedisScript) the helpers are built
 * once, when the library loads; as a plain script, only the helpers it calls are.
 */
export function withPrelude(body: string): ScriptSource {
  const needed = new Set<string>();
  const scan = (code: string): void => {
    for (const helper of HELPERS) {
      if (!needed.has(helper.name) && new RegExp(`\\b${helper.name}\\(`).test(code)) {
        needed.add(helper.name);
        scan(helper.code);
      }
    }
  };
  scan(body);
  const helpers = HELPERS.filter((h) => needed.has(h.name)).map((h) => h.code);
  return { chunk: [`local ${KEY_NAMES}`, ...helpers].join("\n\n"), body: `${BIND_KEYS}\n${body}` };
}
