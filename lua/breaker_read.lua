-- A breaker's fleet state, for a daemon that starts (or reconnects, or refreshes) and for
-- BREAKER STATE: what the hash says, who holds the probe, which hosts tripped in the window
-- and the counts each host reported.
-- KEYS[1] state hash, KEYS[2] probe key, KEYS[3] trips zset, KEYS[4] counts hash
-- ARGV[1] window_ms (trips older do not count)
-- Reply: {now_ms, state, generation, open_remaining_ms, tripped_by, tripped_at_ms,
-- consecutive trips, probe holder, {node, tripped_at_ms, ...}, {node, "calls failures slow
-- at_ms", ...}}; state is "closed" and generation 0 for a breaker Redis has never heard of.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'state', 'gen', 'open_until', 'tripped_by',
                       'tripped_at', 'trips')
local left = 0
if cur[1] == 'open' then left = math.max(tonumber(cur[3] or '0') - now, 0) end
local trips = redis.call('ZRANGEBYSCORE', KEYS[3], now - tonumber(ARGV[1]), '+inf',
                         'WITHSCORES')
return {now, cur[1] or 'closed', tonumber(cur[2] or '0'), left, cur[4] or '',
        tonumber(cur[5] or '0'), tonumber(cur[6] or '0'), redis.call('GET', KEYS[2]) or '',
        trips, redis.call('HGETALL', KEYS[4])}
