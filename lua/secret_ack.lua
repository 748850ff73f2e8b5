-- A daemon says which version of a secret it serves as current (after each reload, and every
-- refresh interval while it caches the secret). Retirement waits for live daemons that lag.
-- KEYS[1] secret hash, KEYS[2] acks hash; ARGV[1] node id, ARGV[2] version it serves
-- Reply: the secret's epoch (a daemon whose cache is older reloads)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. string.format('%d', now))
return tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
