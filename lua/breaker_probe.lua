-- A host asks to probe a breaker that is open fleet-wide: once its open time is over it turns
-- half-open (announced), and one host at a time holds the probe. The key's TTL is twice the
-- probe timeout: the holder admits a probe for one timeout after it asked, and that probe may
-- run one more timeout, so the key outlives every probe the holder admits; a holder that asks
-- again keeps it that long from now. A lost prober cannot keep it half-open: the next host
-- takes the probe once the key expired.
-- A breaker whose hash Redis lost (restart without persistence) while a daemon knew it open
-- (floor > 0) is taken as open with its time over: it turns half-open and probes, rather than
-- every daemon waiting for a probe nobody could grant.
-- KEYS[1] state hash, KEYS[2] probe key
-- ARGV[1] node, ARGV[2] probe key ttl_ms, ARGV[3] generation floor, ARGV[4] channel,
-- ARGV[5] name
-- Announces "state <name> half-open <generation> <node> 0 <consecutive trips>" when it turns.
-- Reply: {1, generation} this node holds the probe; {0, state, generation, holder or
-- remaining open ms} it does not.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'state', 'gen', 'open_until', 'trips')
local state = cur[1]
local gen = tonumber(cur[2] or '0')
if not state then
  if tonumber(ARGV[3]) > 0 then state = 'open' else state = 'closed' end
end
if state ~= 'open' and state ~= 'half-open' then return {0, state, gen, ''} end
if state == 'open' then
  local left = tonumber(cur[3] or '0') - now
  if left > 0 then return {0, state, gen, tostring(left)} end
  gen = math.max(gen + 1, tonumber(ARGV[3]) + 1, now)
  redis.call('HSET', KEYS[1], 'state', 'half-open', 'gen', string.format('%d', gen))
  redis.call('PUBLISH', ARGV[4], 'state ' .. ARGV[5] .. ' half-open ' ..
             string.format('%d', gen) .. ' ' .. ARGV[1] .. ' 0 ' .. (cur[4] or '0'))
  -- The first probe of this half-open period is this node's, over an earlier period's holder:
  -- set over it, never deleted and set again (on a Cluster, a key deleted in a migrating slot
  -- counts as elsewhere, and the script would stop half done).
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {1, gen}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, gen} end
local holder = redis.call('GET', KEYS[2]) or ''
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return {1, gen}
end
return {0, 'half-open', gen, holder}
