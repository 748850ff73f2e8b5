-- A daemon's heartbeat: stores its record and the time Redis saw it, and sweeps out daemons
-- whose heartbeats stopped longer than the TTL ago (announcing their leave). The first beat of
-- a node (or one after it had expired) announces a join; a change of state (active ->
-- draining) announces itself too.
-- KEYS[1] records hash "<prefix>:{nodes}" (id -> record), KEYS[2] liveness sorted set
-- "<prefix>:{nodes}:seen" (id scored by last heartbeat ms); both share the hash tag {nodes}.
-- ARGV[1] node id, ARGV[2] record (JSON: address, version, state, sessions, started_ms,
-- run_id), ARGV[3] ttl_ms, ARGV[4] events channel, ARGV[5] state ("active"|"draining")
-- Reply: {now_ms, joined (1/0), node ids swept out...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local reply = {now, 0}
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
for _, id in ipairs(stale) do
  if id ~= ARGV[1] then
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('PUBLISH', ARGV[4], 'leave ' .. id .. ' expired')
    reply[#reply + 1] = id
  end
end
local last = redis.call('ZSCORE', KEYS[2], ARGV[1])
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
if not last or tonumber(last) <= now - ttl or not previous then
  redis.call('PUBLISH', ARGV[4], 'join ' .. ARGV[1])
  reply[2] = 1
elseif ARGV[5] == 'draining' and not string.find(previous, '"state":"draining"', 1, true) then
  redis.call('PUBLISH', ARGV[4], 'drain ' .. ARGV[1])
end
return reply
