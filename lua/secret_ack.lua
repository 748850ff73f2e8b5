-- A daemon says which version of a secret it serves as current (after each reload, and every
-- refresh interval while it caches the secret). Retirement waits for live daemons that lag.
-- KEYS[1] secret hash, KEYS[2] acks hash; ARGV[1] node id, ARGV[2] version it serves
-- Reply: {epoch, incarnation} of the secret as Redis has it, {0, ""} if the record is gone.
-- A daemon whose cache differs in either reloads: an epoch alone cannot tell, since after
-- Redis lost the record the history starts again at epoch 1 (lua/secret_begin.lua).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. string.format('%d', now))
local identity = redis.call('HMGET', KEYS[1], 'epoch', 'incarnation')
return {tonumber(identity[1] or '0'), identity[2] or ''}
