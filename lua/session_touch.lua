-- Keeps a session alive for another ttl (sliding), from any node, for the uid that opened it.
-- KEYS[1] session hash; ARGV[1] the caller's uid
-- Reply: {1, owner, epoch, ttl_ms, user} or {0, "gone"} or {0, "noperm"} (another uid's)
local s = redis.call('HMGET', KEYS[1], 'owner', 'epoch', 'ttl', 'user', 'uid')
if not s[1] then return {0, 'gone'} end
-- A session opened before sessions carried a uid is anyone's, as it was then.
if s[5] and s[5] ~= ARGV[1] then return {0, 'noperm'} end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'touched',
           string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
redis.call('PEXPIRE', KEYS[1], s[3])
return {1, s[1], tonumber(s[2]), tonumber(s[3]), s[4]}
