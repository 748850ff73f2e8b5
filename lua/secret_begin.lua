-- Starts a rotation step sequence under the rotation lease's fencing token. The token is
-- stored as the secret's fence: every later step (stage, abort, promote) must carry it, so a
-- rotator whose lease ran out cannot write after a newer one began.
-- KEYS[1] secret hash; ARGV[1] fencing token; ARGV[2] due_ms: when > 0, rotate only if the
-- current version is at least this old (a schedule; Redis' clock decides, not the host's);
-- ARGV[3] version floor: the highest version the caller has seen. A Redis that lost its data
-- would otherwise number versions from 1 again, and a daemon still holding the old version 3
-- would take a new version 3 for the one it knows (the chaos harness's data-loss mix).
-- ARGV[4] incarnation: a random id the caller made, stored only if the record has none. This
-- script is the first to write a secret's record, so the id names one history of the secret:
-- after Redis lost the record, the next begin stores a new one, and a daemon still holding
-- the old history sees a different id even where epochs and versions start over and repeat.
-- (The daemon makes the id: math.random in a Redis script is seeded the same every time.)
-- Reply: {"fresh", version, now_ms}: a new version number to seal the value for
--        {"resume", version, phase, now_ms}: a half-done rotation left a pending version
--        {"stale", fence}: a newer rotation holds the fence
--        {"not-due", ms_left}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < fence then return {'stale', string.format('%d', fence)} end
local due = tonumber(ARGV[2])
if due > 0 then
  local current = redis.call('HMGET', KEYS[1], 'current', 'rotated_at')
  if current[1] and current[1] ~= '0' then
    local age = now - tonumber(current[2] or '0')
    if age < due then return {'not-due', due - age} end
  end
end
redis.call('HSET', KEYS[1], 'fence', ARGV[1])
if ARGV[4] and ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'incarnation', ARGV[4]) end
local pending = redis.call('HMGET', KEYS[1], 'pending', 'phase')
if pending[1] and pending[1] ~= '0' then
  return {'resume', tonumber(pending[1]), pending[2] or 'staged', now}
end
local next = math.max(tonumber(redis.call('HGET', KEYS[1], 'next') or '0'),
                     tonumber(ARGV[3] or '0')) + 1
redis.call('HSET', KEYS[1], 'next', next)
return {'fresh', next, now}
