-- RATE RESET: forgets a key's counts, and tells every daemon to drop it from its local cache
-- of keys over their limit (else they would keep refusing it until the cached reset).
-- KEYS[1] the key's state; ARGV[1] channel, ARGV[2] message ("reset <policy> <key>")
-- Reply: 1 if there was state, 0 if not.
local existed = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return existed
