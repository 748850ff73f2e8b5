-- A host's breaker tripped: count its trip and open the breaker fleet-wide once enough hosts
-- have tripped within the window (1 for scope fleet; N, or a share of the live hosts, for
-- quorum). A host that tripped alone stays open on its own (the caller keeps its local state).
-- KEYS[1] state hash  "<prefix>:breaker:{<name>}"
-- KEYS[2] trips zset  "<prefix>:breaker:{<name>}:trips" (node -> when it last tripped, ms)
-- KEYS[3] probe key   "<prefix>:breaker:{<name>}:probe"
-- ARGV[1] node, ARGV[2] hosts needed (>= 1), ARGV[3] window_ms (trips older do not count),
-- ARGV[4] open_ms, ARGV[5] backoff (x per consecutive trip), ARGV[6] max_open_ms,
-- ARGV[7] generation floor (the highest this daemon has seen), ARGV[8] channel, ARGV[9] name
--
-- Generations only grow, also after Redis lost the hash (restart without persistence): a new
-- one is above the stored one, the caller's floor and Redis' clock in ms.
-- Announces "state <name> open <generation> <node> <open_ms> <consecutive trips>".
-- Reply: {1, generation, open_ms, trips} opened now; {2, state, generation} it already was
-- open, half-open or forced; {3, hosts tripped, hosts needed} not enough hosts yet.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'state', 'gen', 'trips')
local state = cur[1] or 'closed'
local gen = tonumber(cur[2] or '0')
if state ~= 'closed' then return {2, state, gen} end
local window = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('PEXPIRE', KEYS[2], window)
local tripped = redis.call('ZCARD', KEYS[2])
local needed = tonumber(ARGV[2])
if tripped < needed then return {3, tripped, needed} end
local trips = tonumber(cur[3] or '0') + 1
local open_ms = math.floor(math.min(tonumber(ARGV[4]) * tonumber(ARGV[5]) ^ (trips - 1),
                                    math.max(tonumber(ARGV[6]), tonumber(ARGV[4]))))
gen = math.max(gen + 1, tonumber(ARGV[7]) + 1, now)
redis.call('HSET', KEYS[1], 'state', 'open', 'gen', string.format('%d', gen), 'open_until',
           string.format('%d', now + open_ms), 'tripped_by', ARGV[1], 'tripped_at',
           string.format('%d', now), 'trips', trips)
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[8], 'state ' .. ARGV[9] .. ' open ' .. string.format('%d', gen) ..
           ' ' .. ARGV[1] .. ' ' .. open_ms .. ' ' .. trips)
return {1, gen, open_ms, trips}
