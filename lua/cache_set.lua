-- CACHE SET: stores an entity's value with its TTL and, in the same step, tells every daemon
-- to drop it from its near cache. Published from the script, the invalidation reaches the
-- daemons after the write and before any later write's: a daemon that hears it and reads
-- again gets this value or a newer one.
-- KEYS[1] the entry (see lua/cache_get.lua); ARGV[1] value, ARGV[2] ttl_ms, ARGV[3] the cache
-- channel "<prefix>:cache-events", ARGV[4] the message "k <namespace> <key>"
-- Reply: 1
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
