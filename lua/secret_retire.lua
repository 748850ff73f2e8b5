-- Retires previous versions whose grace window is over, but only once every live daemon
-- (one that acknowledged within the liveness window) runs the current version: a daemon
-- that has not reloaded yet still serves the old one as its current. Retiring deletes the
-- sealed value and keeps a short record. Safe to run from every daemon: it is idempotent.
-- KEYS[1] secret hash, KEYS[2] acks hash (node -> "version ack_ms"); ARGV[1] liveness_ms,
-- ARGV[2] channel, ARGV[3] secret name, ARGV[4] retired records to keep
-- Reply: {retired count, epoch, lagging node, ...}; a retirement is announced as promotions
-- are (lua/secret_promote.lua): "changed <name> <epoch> <incarnation>"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('HGET', KEYS[1], 'current') or '0')
local reply = {0, tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')}
if current == 0 then return reply end
local acks = redis.call('HGETALL', KEYS[2])
for i = 1, #acks, 2 do
  local version, at = string.match(acks[i + 1], '^(%d+) (%d+)$')
  local age = now - tonumber(at or '0')
  if age > 86400000 then
    redis.call('HDEL', KEYS[2], acks[i]) -- a daemon gone for a day
  elseif age <= tonumber(ARGV[1]) and tonumber(version or '0') < current then
    reply[#reply + 1] = acks[i]
  end
end
if #reply > 2 then return reply end
local kept, retired = {}, {}
for version in string.gmatch(redis.call('HGET', KEYS[1], 'live') or '', '%S+') do
  local v = 'v' .. version .. '.'
  local state = redis.call('HMGET', KEYS[1], v .. 'state', v .. 'grace_until')
  if state[1] == 'previous' and tonumber(state[2] or '0') <= now then
    redis.call('HSET', KEYS[1], v .. 'state', 'retired', v .. 'retired', string.format('%d', now))
    redis.call('HDEL', KEYS[1], v .. 'kek', v .. 'wkey', v .. 'ct')
    retired[#retired + 1] = version
  else
    kept[#kept + 1] = version
  end
end
if #retired == 0 then return reply end
redis.call('HSET', KEYS[1], 'live', table.concat(kept, ' '))
-- Keep the newest retired records for SECRET INFO; forget older ones entirely.
local history = {}
for version in string.gmatch(redis.call('HGET', KEYS[1], 'retired') or '', '%S+') do
  history[#history + 1] = version
end
for _, version in ipairs(retired) do history[#history + 1] = version end
local keep = tonumber(ARGV[4])
while #history > keep do
  local v = 'v' .. table.remove(history, 1) .. '.'
  redis.call('HDEL', KEYS[1], v .. 'state', v .. 'created', v .. 'promoted', v .. 'grace_until',
             v .. 'retired')
end
redis.call('HSET', KEYS[1], 'retired', table.concat(history, ' '))
reply[1] = #retired
reply[2] = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local incarnation = redis.call('HGET', KEYS[1], 'incarnation')
local news = 'changed ' .. ARGV[3] .. ' ' .. reply[2]
if incarnation then news = news .. ' ' .. incarnation end
redis.call('PUBLISH', ARGV[2], news)
return reply
