-- Gives back a lease its daemon declared lost (lease_keeper: Redis stalled past the lease's
-- safe validity), as an unclean loss and not as a release: the holder may not have heard the
-- verdict (only a RESP3 or watching holder is told), so a configured lock-delay still runs.
-- Cuts the lease to end now, so that a renewal the daemon sent before the verdict and that
-- landed after it (Redis woke) holds the name no longer than the lock-delay.
-- KEYS[1] lease hash; ARGV[1] owner id, ARGV[2] token, ARGV[3] event channel, ARGV[4] name
-- Reply: {1, "released"} (no lock-delay: deleted, and announced as a release, which wakes
-- waiters), {1, "cut"} (in lock-delay from now), or {0, reason} with reason "not-held",
-- "not-holder" (another owner or token) or "expired" (it ended already: its own lock-delay
-- runs).
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'valid_until', 'lock_delay')
if not current[1] then return {0, 'not-held'} end
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return {0, 'not-holder'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if now >= tonumber(current[3]) then return {0, 'expired'} end
local delay = tonumber(current[4]) or 0
if delay <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], 'released ' .. ARGV[4] .. ' ' .. ARGV[2])
  return {1, 'released'}
end
redis.call('HSET', KEYS[1], 'valid_until', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], delay)
return {1, 'cut'}
