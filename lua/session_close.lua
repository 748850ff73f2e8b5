-- Closes a session: its record, state and any outstanding resume token are gone at once.
-- KEYS[1] session hash; ARGV[1] events channel, ARGV[2] session id
-- Reply: {1, user, owner} or {0, "gone"}
local s = redis.call('HMGET', KEYS[1], 'user', 'owner')
if not s[1] then return {0, 'gone'} end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'closed ' .. ARGV[2] .. ' ' .. s[2])
return {1, s[1], s[2]}
