-- Sliding-window rate limit by the two-counter approximation (Cloudflare's): each window
-- keeps the count of the current and the previous fixed window (aligned to Redis TIME) and
-- estimates the sliding count as previous * (share of the previous window still inside the
-- sliding one) + current. All windows are checked and charged atomically; nothing is charged
-- when any window refuses.
-- Bound: the current fixed window never admits more than the limit, and from an idle key a
-- span of d <= window admits at most limit * (1 + d / window) (the estimate assumes the
-- previous window's requests were spread evenly; a burst at its very end is under-counted).
-- KEYS[1] state string: "<window index>:<previous>:<current>" per window, comma-separated
-- ARGV[1] cost (>= 1), ARGV[2] "charge" or "peek", ARGV[3], ARGV[4], ... window_ms/limit pairs
-- Reply: {allowed 0|1, remaining, reset_ms, retry_after_ms, refusing window (1-based) or 0};
-- remaining and reset_ms are the tightest window's after this call, reset_ms is when its
-- estimate is back to zero.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local charge = ARGV[2] == 'charge'
local windows = (#ARGV - 2) / 2
local stored = {}
local state = redis.call('GET', KEYS[1])
if state then
  for index, previous, current in string.gmatch(state, '(%d+):(%d+):(%d+)') do
    stored[#stored + 1] = {tonumber(index), tonumber(previous), tonumber(current)}
  end
end
local allowed, retry, refusing = true, 0, 0
local w, indexes, previous, current, limits, weights = {}, {}, {}, {}, {}, {}
for i = 1, windows do
  local window_us = tonumber(ARGV[1 + 2 * i]) * 1000
  local limit = tonumber(ARGV[2 + 2 * i])
  local index = math.floor(now / window_us)
  local prev, curr = 0, 0
  local s = stored[i]
  if s then
    if s[1] == index then
      prev, curr = s[2], s[3]
    elseif s[1] == index - 1 then
      prev = s[3]
    end
  end
  local start = index * window_us
  local weight = 1 - (now - start) / window_us
  w[i], indexes[i], previous[i], current[i], limits[i], weights[i] =
    window_us, index, prev, curr, limit, weight
  if prev * weight + curr + cost > limit then
    allowed = false
    local wait
    local room = limit - curr - cost
    if room >= 0 then
      -- Later in this window the previous count weighs less: prev * (1 - f) <= room.
      wait = start + window_us * (1 - room / prev) - now
    else
      -- Only in the next window, where the current count becomes the previous one.
      wait = start + window_us + window_us * math.max(0, 1 - (limit - cost) / curr) - now
    end
    wait = math.ceil(wait)
    if wait > retry then retry, refusing = wait, i end
  end
end
local remaining, reset, keep_for, parts = nil, 0, 0, {}
for i = 1, windows do
  if allowed then current[i] = current[i] + cost end
  parts[i] = string.format('%d:%d:%d', indexes[i], previous[i], current[i])
  local left = math.floor(limits[i] - previous[i] * weights[i] - current[i])
  if left < 0 then left = 0 end
  local start = indexes[i] * w[i]
  local zero_at = 0
  if current[i] > 0 then
    zero_at = start + 2 * w[i] - now
  elseif previous[i] > 0 then
    zero_at = start + w[i] - now
  end
  if remaining == nil or left < remaining then remaining, reset = left, zero_at end
  if zero_at > keep_for then keep_for = zero_at end
end
if allowed and charge then
  redis.call('SET', KEYS[1], table.concat(parts, ','), 'PX', math.floor(keep_for / 1000) + 1)
end
return {allowed and 1 or 0, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000), refusing}
