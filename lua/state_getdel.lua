-- STATE GETDEL: reads an entry and, if it is plain, deletes it in the same step (a sealed one
-- is left for the daemon to delete by its version once it has opened it: a value that cannot
-- be opened must not be deleted as if it had been read). A script of its own, apart from
-- lua/state_read.lua, because it changes state: a delete that a failover lost would let the
-- same entry be taken twice, so it is WAITed for (redis/durable_scripts.hpp).
-- KEYS[1] the entry (see lua/state_read.lua)
-- Reply: {{}} when absent, else {{version, ms left (-1: no expiry), v, kek, wkey, ct}}, the
-- shape lua/state_read.lua answers for one key
local f = redis.call('HMGET', KEYS[1], 'ver', 'v', 'kek', 'wkey', 'ct')
if not f[1] then return {{}} end
local entry = {tonumber(f[1]), redis.call('PTTL', KEYS[1]), f[2] or '', f[3] or '', f[4] or '',
               f[5] or ''}
if not f[3] then redis.call('UNLINK', KEYS[1]) end
return {entry}
