import { PRELUDE } from "./lua-prelude.js";
import { RedisScript } from "./script.js";

/** KEYS: dead, deadbytes. Returns every dead letter (JSON) and removes them, atomically. */
export const TAKE_DEAD = new RedisScript(`
local letters = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return letters
`);

/**
 * The session's keys (as every delivery script). ARGV: sid, now, debounce, maxwait, ttl,
 * preLinkWindowMs, letterJson, then its entries… Removes that exact letter from the
 * shared list and queues its entries again, bypassing dedupe: to the session's pending note when
 * it is linked, else its pre-link buffer. Returns {1, at, deadLength}, or {0} when the letter was
 * no longer there (another instance took or re-drove it).
 */
export const REDRIVE = new RedisScript(`${PRELUDE}
local sid, now, debounce, maxwait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, prewin, letter = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
if redis.call('LREM', dead, 1, letter) == 0 then return {0} end
if redis.call('DECRBY', deadbytes, #letter) < 0 then redis.call('SET', deadbytes, 0) end
local entries = {}
for i = 8, #ARGV do entries[#entries + 1] = ARGV[i] end
local at = -1
if redis.call('HGET', meta, 'conv') then
  call_all('RPUSH', pending, entries)
  if not redis.call('HGET', meta, 'first') then redis.call('HSET', meta, 'first', now) end
  redis.call('HSET', meta, 'last', now)
  touch(ttl)
  at = reschedule(sid, now, debounce, maxwait)
else
  add_pre(entries)
  expire_prelink(now, prewin, ttl, redis.call('HEXISTS', meta, 'gone') == 1)
end
return {1, at, redis.call('LLEN', dead)}
`);
