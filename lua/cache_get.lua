-- CACHE GET on a near-cache miss: a cached entity's value and the time it has left, read in
-- one step (a value with another write's TTL would keep it in near caches past its end).
-- KEYS[1] "<prefix>:cache:<namespace>:{<key>}", a string
-- Reply: {} when absent, else {value, ms left}
local value = redis.call('GET', KEYS[1])
if not value then return {} end
return {value, redis.call('PTTL', KEYS[1])}
