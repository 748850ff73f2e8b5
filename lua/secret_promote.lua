-- Makes the pending version current and the current one previous (it keeps verifying until
-- its grace deadline), then announces the change so every daemon reloads at once. One script,
-- so no daemon can see two current versions or none.
-- KEYS[1] secret hash; ARGV[1] token, ARGV[2] version, ARGV[3] grace_ms, ARGV[4] channel,
-- ARGV[5] secret name
-- Announces "changed <name> <epoch> <incarnation>" (without the incarnation for a record made
-- before secret_begin stored one): a daemon reloads on any difference from what it holds.
-- Reply: {1, epoch, now_ms, previous version or 0} or {0, "stale"|"not-pending"}
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {0, 'stale'} end
if redis.call('HGET', KEYS[1], 'pending') ~= ARGV[2] then return {0, 'not-pending'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = redis.call('HGET', KEYS[1], 'current')
if current and current ~= '0' then
  redis.call('HSET', KEYS[1], 'v' .. current .. '.state', 'previous',
             'v' .. current .. '.grace_until', string.format('%d', now + tonumber(ARGV[3])))
else
  current = '0'
end
local v = 'v' .. ARGV[2] .. '.'
redis.call('HSET', KEYS[1], v .. 'state', 'current', v .. 'promoted', string.format('%d', now),
           'current', ARGV[2], 'pending', '0', 'rotated_at', string.format('%d', now))
redis.call('HDEL', KEYS[1], 'phase')
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local incarnation = redis.call('HGET', KEYS[1], 'incarnation')
local news = 'changed ' .. ARGV[5] .. ' ' .. epoch
if incarnation then news = news .. ' ' .. incarnation end
redis.call('PUBLISH', ARGV[4], news)
return {1, epoch, now, tonumber(current)}
