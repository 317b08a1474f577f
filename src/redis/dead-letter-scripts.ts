import { withPrelude } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/**
 * KEYS: dead, deadbytes, taken (a key named by the take's id). ARGV: keepMs. Returns every dead
 * letter (JSON) and removes them, atomically. The letters are kept under `taken` for keepMs, so
 * a take re-run with the same id after its reply was lost returns them again instead of nothing.
 */
export const TAKE_DEAD = new RedisScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return redis.call('LRANGE', KEYS[3], 0, -1) end
local letters = redis.call('LRANGE', KEYS[1], 0, -1)
if #letters > 0 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[1]))
end
redis.call('DEL', KEYS[2])
return letters
`);

/**
 * The session's keys (as every delivery script). ARGV: sid, now, debounce, maxwait, ttl,
 * letterJson, kind ("summary" | "actions"), then its entries (a summary letter: its body)… Removes that exact letter from the shared list and queues its
 * entries again for the session's conversation, bypassing dedupe. Returns {1, at, deadLength};
 * {2} when the session has no conversation now (the letter stays: a pre-link buffer would trim
 * it as too old); {0} when the letter was no longer there (another instance took or re-drove it).
 */
export const REDRIVE = new RedisScript(withPrelude(`
local sid, now, debounce, maxwait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, letter = tonumber(ARGV[5]), ARGV[6]
if not redis.call('HGET', meta, 'conv') then
  if redis.call('LPOS', dead, letter) then return {2} end
  return {0}
end
if redis.call('LREM', dead, 1, letter) == 0 then return {0} end
if redis.call('DECRBY', deadbytes, #letter) < 0 then redis.call('SET', deadbytes, 0) end
if ARGV[7] == 'summary' then
  -- A summary note again, after what the session owes now, with nothing to redact.
  local owed = redis.call('LLEN', flush) + redis.call('LLEN', pending)
  if redis.call('HGET', meta, 'kind') ~= 'summary' then owed = owed + redis.call('LLEN', inflight) end
  local after = num(meta, 'settled') + owed
  redis.call('RPUSH', summaries, '{"after":' .. string.format('%d', after) .. ',"body":' .. cjson.encode(ARGV[8]) .. ',"snap":[]}')
else
  local entries = {}
  for i = 8, #ARGV do entries[#entries + 1] = ARGV[i] end
  call_all('RPUSH', pending, entries)
  if not redis.call('HGET', meta, 'first') then redis.call('HSET', meta, 'first', now) end
  redis.call('HSET', meta, 'last', now)
end
touch(ttl)
return {1, reschedule(sid, now, debounce, maxwait), redis.call('LLEN', dead)}
`));
