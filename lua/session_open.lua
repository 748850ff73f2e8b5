-- Opens a session owned by the node that opened it: owner epoch 1, and a resume nonce that
-- the first resume token carries. The hash expires when the session does (sliding TTL).
-- It belongs to the app's uid that opened it: only that uid may touch, close or write it
-- (lua/session_touch.lua, session_close.lua; the daemon checks reads), and only that uid's
-- connections hear its new tokens. The caps on sessions per user and per node are counted
-- in the indexes (lua/session_index.lua "reserve", run before this): they live in other hash
-- slots than this session's hash, so one script cannot hold both on Redis Cluster.
-- KEYS[1] session hash "<prefix>:session:{<id>}"; ARGV[1] user, ARGV[2] owner node,
-- ARGV[3] ttl_ms, ARGV[4] meta, ARGV[5] nonce, ARGV[6] the opener's uid
-- Reply: {1, now_ms, epoch} or {0, "exists"} (ids are 128 random bits: never in practice)
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 'exists'} end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'owner', ARGV[2], 'epoch', '1', 'token_epoch', '1',
           'nonce', ARGV[5], 'ttl', ARGV[3], 'meta', ARGV[4], 'created', now, 'touched', now,
           'state_version', '0', 'uid', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, tonumber(now), 1}
