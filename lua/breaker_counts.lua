-- Every sync interval, a daemon reports its window of each breaker it judges (batched: one
-- call per breaker per interval, not one per REPORT), for BREAKER STATE's counts per node.
-- KEYS[1] counts hash "<prefix>:breaker:{<name>}:counts"
-- ARGV[1] node, ARGV[2] calls, ARGV[3] failures, ARGV[4] slow, ARGV[5] ttl_ms (a host that
-- stops reporting drops out after this long)
-- Reply: 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' ..
           string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
