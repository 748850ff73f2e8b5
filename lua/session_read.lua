-- Reads a session with Redis' time and the ms it has left.
-- KEYS[1] session hash
-- Reply: {now_ms, pttl_ms, field, value, ...}, or {now_ms, -2} if there is no such session
local t = redis.call('TIME')
local reply = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
               redis.call('PTTL', KEYS[1])}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields do reply[#reply + 1] = fields[i] end
return reply
