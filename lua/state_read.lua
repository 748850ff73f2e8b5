-- STATE GET and MGET, and the reads of `batonctl state export`: the entries of keys that share
-- one slot (the daemon groups a request's keys by slot: one call per slot), each read whole in
-- one step, so a value never comes with another write's version or TTL. Read-only (GETDEL is
-- lua/state_getdel.lua).
-- KEYS: entry hashes "<namespace key prefix>{<key>}": ver, and v (a plain value) or kek, wkey,
-- ct (a value sealed with the secrets' envelope), and w (the write's id; lua/state_write.lua)
-- Reply: per key, {} when absent, else {version, ms left (-1: no expiry), v, kek, wkey, ct}
local out = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'ver', 'v', 'kek', 'wkey', 'ct')
  if not f[1] then
    out[i] = {}
  else
    out[i] = {tonumber(f[1]), redis.call('PTTL', key), f[2] or '', f[3] or '', f[4] or '',
              f[5] or ''}
  end
end
return out
