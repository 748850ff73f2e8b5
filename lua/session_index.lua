-- Keeps an index of sessions (a user's, or a node's) as a sorted set scored by when each
-- expires, dropping the expired ones as it goes. Indexes are hints: readers check each
-- session, because a session's own hash (its TTL, its owner) is the truth.
-- KEYS[1] index "<prefix>:user-sessions:{<user>}" or "<prefix>:node-sessions:{<node>}";
-- ARGV[1] "add" or "remove", ARGV[2] session id, ARGV[3] ms until it expires (add)
-- Reply: the number of sessions left in the index
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'add' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
else
  redis.call('ZREM', KEYS[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], 30 * 86400000) end
return left
