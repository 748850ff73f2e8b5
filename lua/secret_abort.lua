-- Rolls a pending version back (its test failed, or a new rotation brings its own value),
-- fenced by the rotation token. The served versions are untouched.
-- KEYS[1] secret hash; ARGV[1] token, ARGV[2] version
-- Reply: {1, "aborted"} or {0, "stale"|"not-pending"}
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {0, 'stale'} end
if redis.call('HGET', KEYS[1], 'pending') ~= ARGV[2] then return {0, 'not-pending'} end
local v = 'v' .. ARGV[2] .. '.'
redis.call('HDEL', KEYS[1], v .. 'state', v .. 'kek', v .. 'wkey', v .. 'ct', v .. 'created',
           'phase')
redis.call('HSET', KEYS[1], 'pending', '0')
local kept = {}
for version in string.gmatch(redis.call('HGET', KEYS[1], 'live') or '', '%S+') do
  if version ~= ARGV[2] then kept[#kept + 1] = version end
end
redis.call('HSET', KEYS[1], 'live', table.concat(kept, ' '))
return {1, 'aborted'}
