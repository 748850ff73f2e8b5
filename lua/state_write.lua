-- STATE SET and MSET: writes the entries of keys that share one slot, all in one step, each
-- with a new version, and with a condition for a single key (compare-and-set).
-- KEYS: entry hashes (see lua/state_read.lua)
-- ARGV[1] condition: "" (none), "absent" (IFABSENT) or "version" (IFVERSION ARGV[2]; 0 means
-- absent); ARGV[2] the expected version; ARGV[3] ttl_ms (0: no expiry); ARGV[4] the write's
-- id, unique to the request; then per key four values: v, kek, wkey, ct (a plain value in v
-- and kek empty, or a sealed one with v empty)
-- A version is max(previous + 1, Redis' clock in microseconds): it grows with every write,
-- and a key deleted and written again does not bring back a version a client may still hold,
-- so IFVERSION is safe against ABA. (Microseconds since 1970 stay below 2^53 until 2255: exact
-- in Lua's doubles and in JavaScript.)
-- The same write sent again (its answer was lost) finds its own id on an entry and writes
-- nothing: it answers the versions the first attempt wrote (0 for an entry written over since),
-- so the daemon may resend a write whose answer it lost.
-- Reply: {"ok", version per key} | {"conflict", the current version (0: absent)}
local ttl = tonumber(ARGV[3])
local id = ARGV[4]
local cur = {}
local landed = false
for i, key in ipairs(KEYS) do
  cur[i] = redis.call('HMGET', key, 'ver', 'w')
  if cur[i][2] == id then landed = true end
end
if landed then
  local out = {'ok'}
  for i = 1, #KEYS do
    out[i + 1] = (cur[i][2] == id) and tonumber(cur[i][1]) or 0
  end
  return out
end
if ARGV[1] == 'absent' and cur[1][1] then return {'conflict', tonumber(cur[1][1])} end
if ARGV[1] == 'version' and tonumber(cur[1][1] or '0') ~= tonumber(ARGV[2]) then
  return {'conflict', tonumber(cur[1][1] or '0')}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {'ok'}
for i, key in ipairs(KEYS) do
  local version = math.max(tonumber(cur[i][1] or '0') + 1, now)
  local at = 4 + (i - 1) * 4
  -- Written over in place, never deleted and made again: on a Cluster, a key deleted in a
  -- slot that is migrating counts as elsewhere, and the script would stop half done with the
  -- entry gone (found by the chaos harness: chaos.mix.cluster, a migrate-slot fault).
  if ARGV[at + 2] == '' then
    redis.call('HSET', key, 'ver', string.format('%.0f', version), 'w', id, 'v', ARGV[at + 1])
    if cur[i][1] then redis.call('HDEL', key, 'kek', 'wkey', 'ct') end
  else
    redis.call('HSET', key, 'ver', string.format('%.0f', version), 'w', id, 'v', '',
               'kek', ARGV[at + 2], 'wkey', ARGV[at + 3], 'ct', ARGV[at + 4])
  end
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  elseif cur[i][1] then
    redis.call('PERSIST', key)
  end
  out[i + 1] = version
end
return out
