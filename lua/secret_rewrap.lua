-- Replaces one version's wrapped data key with one wrapped by another KEK, only if it is
-- still the one the caller unwrapped (two rewraps at once cannot lose a key). The value's
-- ciphertext is not touched, so serving goes on throughout.
-- KEYS[1] secret hash; ARGV[1] version, ARGV[2] wrapped key read, ARGV[3] new KEK id,
-- ARGV[4] new wrapped key
-- Reply: 1 rewrapped, 0 changed meanwhile (or retired)
local v = 'v' .. ARGV[1] .. '.'
if redis.call('HGET', KEYS[1], v .. 'wkey') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], v .. 'kek', ARGV[3], v .. 'wkey', ARGV[4])
return 1
