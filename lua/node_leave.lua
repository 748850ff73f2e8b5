-- A daemon leaves the fleet cleanly (after draining, at stop): its record goes at once, so
-- nobody waits for its heartbeat TTL, and the leave is announced.
-- KEYS[1] records hash, KEYS[2] liveness sorted set; ARGV[1] node id, ARGV[2] events channel
-- Reply: 1 if it was a member, 0 if not
local was = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'leave ' .. ARGV[1] .. ' clean')
return was
