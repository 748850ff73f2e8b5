-- Reads one secret's record (its versions, states and sealed values) with Redis' time, so
-- that a daemon can turn grace deadlines into its own clock.
-- KEYS[1] secret hash "<prefix>:secret:{<name>}"
-- Reply: {now_ms, field, value, field, value, ...} (no fields: no such secret)
local t = redis.call('TIME')
local reply = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields do reply[i + 1] = fields[i] end
return reply
