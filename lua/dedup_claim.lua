-- DEDUP CLAIM: the first caller across the fleet claims an idempotency key and does the work;
-- later callers learn that it is pending, or get the stored result once it is done.
-- KEYS[1] "<prefix>:dedup:{<key>}", a hash: state (pending|done), owner, result
-- ARGV[1] owner (node:run:connection), ARGV[2] ttl_ms of the claim, ARGV[3] the request's id
-- (optional; see lua/dedup_release.lua)
-- Reply: {"new", "", ttl_ms} | {"pending", "", ms left} | {"done", result, ms left}
local state = redis.call('HMGET', KEYS[1], 'state', 'result')
if not state[1] then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'owner', ARGV[1], 'req', ARGV[3] or '')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new', '', tonumber(ARGV[2])}
end
local left = redis.call('PTTL', KEYS[1])
if state[1] == 'done' then return {'done', state[2] or '', left} end
return {'pending', '', left}
