-- `batonctl state import`: writes entries of keys that share one slot exactly as an export
-- recorded them: value, version and time left. Importing the same file again (after an
-- interruption) writes the same entries again: it is safe to repeat.
-- KEYS: entry hashes (see lua/state_read.lua)
-- ARGV: per key six values: version, ttl_ms (0: no expiry), v, kek, wkey, ct
-- Reply: the number of entries written
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 6
  -- Written over in place, never deleted and made again (see lua/state_write.lua: a Cluster's
  -- migrating slot would stop the script half done).
  redis.call('HSET', key, 'ver', ARGV[at + 1], 'w', 'import', 'v', ARGV[at + 3])
  if ARGV[at + 4] ~= '' then
    redis.call('HSET', key, 'kek', ARGV[at + 4], 'wkey', ARGV[at + 5], 'ct', ARGV[at + 6])
  else
    redis.call('HDEL', key, 'kek', 'wkey', 'ct')
  end
  if tonumber(ARGV[at + 2]) > 0 then
    redis.call('PEXPIRE', key, ARGV[at + 2])
  else
    redis.call('PERSIST', key)
  end
end
return #KEYS
