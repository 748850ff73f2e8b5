-- Ends a lease no later than `ms` from now, without lock-delay: its daemon is stopping
-- cleanly and its holder may still be using it, so it is not released at once (another
-- client could take it while the holder's promised validity runs), but it is not held past
-- that promise either, nor followed by the lock-delay that only an unclean loss earns.
-- Never lengthens a lease: the end is the earlier of its valid_until and now + ms.
-- Announced on the events channel so that waiters on other daemons ask again and learn the
-- new end (a waiter would otherwise sleep until the end it last heard, up to a whole TTL).
-- KEYS[1] lease hash; ARGV[1] owner id, ARGV[2] token, ARGV[3] ms (> 0), ARGV[4] event
-- channel, ARGV[5] name
-- Reply: {1, ms the key now lives} or {0, reason} with reason "not-held" or "not-holder".
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'valid_until')
if not current[1] then return {0, 'not-held'} end
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return {0, 'not-holder'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ending = math.min(tonumber(current[3]), now + tonumber(ARGV[3]) * 1000)
local left = math.max(1, math.ceil((ending - now) / 1000))
-- valid_until too: a DENIED tells waiters this end, not the one before; and the key goes
-- with it, so no lock-delay follows.
redis.call('HSET', KEYS[1], 'valid_until', string.format('%d', math.max(ending, now)),
           'lock_delay', '0')
redis.call('PEXPIRE', KEYS[1], left)
redis.call('PUBLISH', ARGV[4], 'retiring ' .. ARGV[5] .. ' ' .. ARGV[2] .. ' ' .. left)
return {1, left}
