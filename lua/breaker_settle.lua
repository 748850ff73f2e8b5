-- The holder of a breaker's probe reports how the probe went: ok closes the breaker
-- fleet-wide (its trips forgotten), fail re-opens it with the next backoff. Only the holder
-- may settle, and only while it is half-open.
-- KEYS[1] state hash, KEYS[2] probe key, KEYS[3] trips zset
-- ARGV[1] node, ARGV[2] "ok" or "fail", ARGV[3] open_ms, ARGV[4] backoff, ARGV[5] max_open_ms,
-- ARGV[6] generation floor, ARGV[7] channel, ARGV[8] name
-- Announces "state <name> closed|open <generation> <node> <open_ms> <consecutive trips>".
-- Reply: {1, state, generation, open_ms, consecutive trips} settled; {0, reason, generation}
-- with reason the state it is in, or "not-holder".
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'state', 'gen', 'trips')
local state = cur[1] or 'closed'
local gen = tonumber(cur[2] or '0')
if state ~= 'half-open' then return {0, state, gen} end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {0, 'not-holder', gen} end
redis.call('DEL', KEYS[2])
gen = math.max(gen + 1, tonumber(ARGV[6]) + 1, now)
local open_ms = 0
local trips = 0
if ARGV[2] == 'ok' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'gen', string.format('%d', gen), 'trips', 0)
  redis.call('DEL', KEYS[3])
  state = 'closed'
else
  trips = tonumber(cur[3] or '0') + 1
  open_ms = math.floor(math.min(tonumber(ARGV[3]) * tonumber(ARGV[4]) ^ (trips - 1),
                                math.max(tonumber(ARGV[5]), tonumber(ARGV[3]))))
  redis.call('HSET', KEYS[1], 'state', 'open', 'gen', string.format('%d', gen), 'open_until',
             string.format('%d', now + open_ms), 'tripped_by', ARGV[1], 'tripped_at',
             string.format('%d', now), 'trips', trips)
  state = 'open'
end
redis.call('PUBLISH', ARGV[7], 'state ' .. ARGV[8] .. ' ' .. state .. ' ' ..
           string.format('%d', gen) .. ' ' .. ARGV[1] .. ' ' .. open_ms .. ' ' .. trips)
return {1, state, gen, open_ms, trips}
