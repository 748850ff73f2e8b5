-- The live members: every node whose last heartbeat is within the TTL, with its record and
-- how long ago Redis saw it. (Reads only; expired members are swept by heartbeats.)
-- KEYS[1] records hash, KEYS[2] liveness sorted set; ARGV[1] ttl_ms, ARGV[2] one node id, or
-- empty for all
-- Reply: {now_ms, id, ms since its heartbeat, record, id, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reply = {now}
local ids
if ARGV[2] ~= '' then
  ids = {ARGV[2]}
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], now - tonumber(ARGV[1]), '+inf')
end
for _, id in ipairs(ids) do
  local seen = redis.call('ZSCORE', KEYS[2], id)
  local record = redis.call('HGET', KEYS[1], id)
  if seen and record and tonumber(seen) > now - tonumber(ARGV[1]) then
    reply[#reply + 1] = id
    reply[#reply + 1] = now - tonumber(seen)
    reply[#reply + 1] = record
  end
end
return reply
