-- An operator forces a breaker open or closed on every host (BREAKER FORCE), or gives it back
-- to its rules ("auto": closed, trips forgotten). Kept in Redis, so it survives restarts.
-- KEYS[1] state hash, KEYS[2] probe key, KEYS[3] trips zset
-- ARGV[1] "open", "closed" or "auto", ARGV[2] node, ARGV[3] generation floor,
-- ARGV[4] channel, ARGV[5] name
-- Announces "state <name> <state> <generation> <node> 0 0".
-- Reply: {1, state, generation}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen = math.max(tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') + 1,
                     tonumber(ARGV[3]) + 1, now)
local state = 'closed'
if ARGV[1] == 'open' then state = 'forced-open' end
if ARGV[1] == 'closed' then state = 'forced-closed' end
redis.call('HSET', KEYS[1], 'state', state, 'gen', string.format('%d', gen), 'trips', 0,
           'forced_by', ARGV[2], 'forced_at', string.format('%d', now))
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[4], 'state ' .. ARGV[5] .. ' ' .. state .. ' ' ..
           string.format('%d', gen) .. ' ' .. ARGV[2] .. ' 0 0')
return {1, state, gen}
