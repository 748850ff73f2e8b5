-- Closes a session: its record, state and any outstanding resume token are gone at once.
-- Only the uid that opened it may, or an admin (the daemon passes "*" for one).
-- KEYS[1] session hash; ARGV[1] events channel, ARGV[2] session id, ARGV[3] the caller's uid
-- Reply: {1, user, owner} or {0, "gone"} or {0, "noperm"} (another uid's)
local s = redis.call('HMGET', KEYS[1], 'user', 'owner', 'uid')
if not s[1] then return {0, 'gone'} end
if s[3] and ARGV[3] ~= '*' and s[3] ~= ARGV[3] then return {0, 'noperm'} end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'closed ' .. ARGV[2] .. ' ' .. s[2])
return {1, s[1], s[2]}
