-- Exact sliding-log rate limit: a sorted set of admitted requests scored by Redis TIME in
-- microseconds. A request counts in a window while it is younger than the window. All
-- windows are checked and charged atomically; nothing is charged when any window refuses.
-- The set is trimmed to the longest window, so it never holds more entries than that
-- window's limit (the config caps sliding_log limits at 100000).
-- KEYS[1] the sorted set
-- ARGV[1] cost (>= 1), ARGV[2] "charge" or "peek", ARGV[3], ARGV[4], ... window_ms/limit pairs
-- Reply: {allowed 0|1, remaining, reset_ms, retry_after_ms, refusing window (1-based) or 0};
-- remaining and reset_ms are the tightest window's after this call, reset_ms is when its
-- youngest entry leaves it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local charge = ARGV[2] == 'charge'
local windows = (#ARGV - 2) / 2
local key = KEYS[1]
local function us(x) return string.format('%d', x) end
local longest = 0
for i = 1, windows do
  local window_us = tonumber(ARGV[1 + 2 * i]) * 1000
  if window_us > longest then longest = window_us end
end
if charge then redis.call('ZREMRANGEBYSCORE', key, '-inf', us(now - longest)) end
local allowed, retry, refusing = true, 0, 0
local w, counts, limits = {}, {}, {}
for i = 1, windows do
  local window_us = tonumber(ARGV[1 + 2 * i]) * 1000
  local limit = tonumber(ARGV[2 + 2 * i])
  local count = redis.call('ZCOUNT', key, '(' .. us(now - window_us), '+inf')
  w[i], counts[i], limits[i] = window_us, count, limit
  if count + cost > limit then
    allowed = false
    -- The oldest (count + cost - limit) entries must leave the window first.
    local k = count + cost - limit
    local entry = redis.call('ZRANGEBYSCORE', key, '(' .. us(now - window_us), '+inf',
                             'WITHSCORES', 'LIMIT', k - 1, 1)
    local wait = window_us
    if entry[2] then wait = tonumber(entry[2]) + window_us - now end
    if wait > retry then retry, refusing = wait, i end
  end
end
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local newest_at = newest[2] and tonumber(newest[2]) or nil
if allowed then newest_at = now end
local remaining, reset = nil, 0
for i = 1, windows do
  local count = counts[i]
  if allowed then count = count + cost end
  local left = limits[i] - count
  local empty_in = 0
  if newest_at and newest_at > now - w[i] then empty_in = newest_at + w[i] - now end
  if remaining == nil or left < remaining then remaining, reset = left, empty_in end
end
if allowed and charge then
  -- Members are unique: no two admitted requests share (time, position in the set).
  local base = redis.call('ZCARD', key)
  local batch = {}
  for n = 1, cost do
    batch[#batch + 1] = us(now)
    batch[#batch + 1] = us(now) .. ':' .. (base + n)
    if #batch >= 2000 or n == cost then
      redis.call('ZADD', key, unpack(batch))
      batch = {}
    end
  end
  redis.call('PEXPIRE', key, math.floor(longest / 1000) + 1)
end
return {allowed and 1 or 0, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000), refusing}
