-- Keeps an index of sessions (a user's, or a node's) as a sorted set scored by when each
-- expires, dropping the expired ones as it goes. Indexes are hints: readers check each
-- session, because a session's own hash (its TTL, its owner) is the truth. They are also the
-- counts behind sessions.max_per_user and max_per_node: OPEN reserves its id here first
-- ("reserve", refused past the cap), because a session's hash and an index are in different
-- hash slots and so cannot be in one script (lua/session_open.lua) on Redis Cluster. Counting
-- by expiry scores, a session that expires without a CLOSE stops counting by itself.
-- KEYS[1] index "<prefix>:user-sessions:{<user>}" or "<prefix>:node-sessions:{<node>}";
-- ARGV[1] "add", "reserve" or "remove", ARGV[2] session id, ARGV[3] ms until it expires
-- (add, reserve), ARGV[4] the most sessions the index may hold (reserve)
-- Reply: the number of sessions left in the index; reserve past ARGV[4] answers -1 and
-- changes nothing (an id already in the index is not refused: it counts already)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == 'reserve' and not redis.call('ZSCORE', KEYS[1], ARGV[2]) and
    redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -1
end
if ARGV[1] == 'add' or ARGV[1] == 'reserve' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
else
  redis.call('ZREM', KEYS[1], ARGV[2])
end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], 30 * 86400000) end
return left
