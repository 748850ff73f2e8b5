-- Releases a lease: only the holder's owner id and token work. A clean release deletes the
-- key at once (no lock-delay) and announces it, waking waiters on every daemon.
-- KEYS[1] lease hash; ARGV[1] owner id, ARGV[2] token, ARGV[3] event channel, ARGV[4] name
-- Reply: {1, "released"} or {0, reason} with reason "not-held" or "not-holder".
local current = redis.call('HMGET', KEYS[1], 'owner', 'token')
if not current[1] then return {0, 'not-held'} end
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return {0, 'not-holder'} end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], 'released ' .. ARGV[4] .. ' ' .. ARGV[2])
return {1, 'released'}
