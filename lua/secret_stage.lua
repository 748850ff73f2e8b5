-- Stores a sealed new version as `pending` (not served yet), fenced by the rotation token.
-- KEYS[1] secret hash; ARGV[1] token, ARGV[2] version, ARGV[3] KEK id, ARGV[4] wrapped data
-- key, ARGV[5] ciphertext
-- Reply: {1, "staged"} or {0, "stale"|"busy"}
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {0, 'stale'} end
local pending = redis.call('HGET', KEYS[1], 'pending')
if pending and pending ~= '0' and pending ~= ARGV[2] then return {0, 'busy'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = 'v' .. ARGV[2] .. '.'
redis.call('HSET', KEYS[1], v .. 'state', 'pending', v .. 'kek', ARGV[3], v .. 'wkey', ARGV[4],
           v .. 'ct', ARGV[5], v .. 'created', string.format('%d', now), 'pending', ARGV[2],
           'phase', 'staged')
local live = redis.call('HGET', KEYS[1], 'live') or ''
if not string.find(' ' .. live .. ' ', ' ' .. ARGV[2] .. ' ', 1, true) then
  redis.call('HSET', KEYS[1], 'live', live == '' and ARGV[2] or (live .. ' ' .. ARGV[2]))
end
return {1, 'staged'}
