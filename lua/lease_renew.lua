-- Extends a lease its holder still holds. Never revives a lapsed one: once valid_until has
-- passed, the holder has been (or is being) told it lost the lease. Never shortens one
-- either: a holder's RENEW and the keeper's renewal may cross on their way (two connections),
-- and each promised its caller the validity of its own TTL from when it was sent; whichever
-- lands last must not take back what the other promised.
-- KEYS[1] lease hash; ARGV[1] owner id, ARGV[2] token, ARGV[3] ttl_ms
-- Reply: {1, ttl_ms} or {0, reason} with reason "not-held" (no such lease),
-- "not-holder" (another owner or token), "expired".
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'valid_until', 'lock_delay')
if not current[1] then return {0, 'not-held'} end
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return {0, 'not-holder'} end
if now >= tonumber(current[3]) then return {0, 'expired'} end
local ttl = tonumber(ARGV[3])
local valid_until = math.max(tonumber(current[3]), now + ttl * 1000)
redis.call('HSET', KEYS[1], 'valid_until', string.format('%d', valid_until))
redis.call('PEXPIRE', KEYS[1], math.ceil((valid_until - now) / 1000) + tonumber(current[4]))
return {1, ttl}
