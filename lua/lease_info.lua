-- Describes a lease by Redis' own clock. Read-only.
-- KEYS[1] lease hash
-- Reply: {} when free, else {state, owner, node, client, token, remaining_ms, meta,
-- acquired_at_us} with state "held" or "lock-delay".
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local c = redis.call('HMGET', KEYS[1], 'owner', 'node', 'client', 'token', 'valid_until',
                     'meta', 'acquired_at')
if not c[1] then return {} end
local valid_until = tonumber(c[5])
if now < valid_until then
  return {'held', c[1], c[2], c[3], tonumber(c[4]), math.floor((valid_until - now) / 1000),
          c[6], tonumber(c[7])}
end
return {'lock-delay', c[1], c[2], c[3], tonumber(c[4]), redis.call('PTTL', KEYS[1]), c[6],
        tonumber(c[7])}
