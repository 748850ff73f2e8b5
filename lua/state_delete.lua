-- STATE DEL and MDEL, and CLEAR's batches: deletes the entries of keys that share one slot,
-- in one step; for a single key, only if its version is the expected one.
-- KEYS: entry hashes (see lua/state_read.lua)
-- ARGV[1] the expected version, or "" for none (0 means absent: then nothing is deleted)
-- Reply: {"ok", entries deleted} | {"conflict", the current version (0: absent)}
if ARGV[1] ~= '' then
  local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
  if ver ~= tonumber(ARGV[1]) then return {'conflict', ver} end
  if ver == 0 then return {'ok', 0} end -- expected absent, and it is: nothing to delete
end
local deleted = 0
for _, key in ipairs(KEYS) do
  deleted = deleted + redis.call('UNLINK', key)
end
return {'ok', deleted}
