-- Stores a session's state (sealed by the daemon for version state_version + 1), only on the
-- owner node and only over the version the writer read: a node that lost the session to a
-- handoff cannot write any more (fenced by ownership), and two writers cannot lose an update.
-- KEYS[1] session hash; ARGV[1] writing node, ARGV[2] expected state_version, ARGV[3] KEK id,
-- ARGV[4] wrapped key, ARGV[5] ciphertext
-- The same write sent again (its answer was lost) is recognised by its ciphertext, which a
-- random nonce makes unique to it, and answered as the first was, so the daemon may retry it.
-- Reply: {1, new state_version} or {0, "gone"} or {0, "moved", owner} or {0, "conflict", version}
local s = redis.call('HMGET', KEYS[1], 'owner', 'state_version', 'ttl', 'state_ct')
if not s[1] then return {0, 'gone'} end
if s[1] ~= ARGV[1] then return {0, 'moved', s[1]} end
if s[2] == tostring(tonumber(ARGV[2]) + 1) and s[4] == ARGV[5] then return {1, tonumber(s[2])} end
if s[2] ~= ARGV[2] then return {0, 'conflict', tonumber(s[2])} end
local t = redis.call('TIME')
local version = tonumber(s[2]) + 1
redis.call('HSET', KEYS[1], 'state_version', tostring(version), 'state_kek', ARGV[3],
           'state_wkey', ARGV[4], 'state_ct', ARGV[5], 'touched',
           string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
redis.call('PEXPIRE', KEYS[1], s[3])
return {1, version}
