-- Fixed-window rate limit over one or more windows, checked and charged atomically: the
-- request is admitted only if every window admits it, and nothing is charged when any window
-- refuses. Windows are aligned to Redis TIME (window k covers [k*w, (k+1)*w)), so every daemon
-- counts in the same window whatever its own clock says.
-- KEYS[1] state string: "<window index>:<count>" per window, comma-separated
-- ARGV[1] cost (>= 1), ARGV[2] "charge" or "peek", ARGV[3], ARGV[4], ... window_ms/limit pairs
-- Reply: {allowed 0|1, remaining, reset_ms, retry_after_ms, refusing window (1-based) or 0},
-- remaining and reset_ms for the tightest window (fewest left) after this call; reset_ms is
-- when its count starts again at zero.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local charge = ARGV[2] == 'charge'
local windows = (#ARGV - 2) / 2
local stored = {}
local state = redis.call('GET', KEYS[1])
if state then
  for index, count in string.gmatch(state, '(%d+):(%d+)') do
    stored[#stored + 1] = {tonumber(index), tonumber(count)}
  end
end
local allowed, retry, refusing = true, 0, 0
local indexes, counts, limits, ends = {}, {}, {}, {}
for i = 1, windows do
  local window_us = tonumber(ARGV[1 + 2 * i]) * 1000
  local index = math.floor(now / window_us)
  local count = 0
  if stored[i] and stored[i][1] == index then count = stored[i][2] end
  indexes[i], counts[i], limits[i] = index, count, tonumber(ARGV[2 + 2 * i])
  ends[i] = (index + 1) * window_us - now
  if count + cost > limits[i] then
    allowed = false
    -- The next window starts from zero, and the daemon never sends a cost above a limit.
    if ends[i] > retry then retry, refusing = ends[i], i end
  end
end
local remaining, reset, keep_for, parts = nil, 0, 0, {}
for i = 1, windows do
  if allowed then counts[i] = counts[i] + cost end
  parts[i] = string.format('%d:%d', indexes[i], counts[i])
  local left = limits[i] - counts[i]
  if remaining == nil or left < remaining then remaining, reset = left, ends[i] end
  if ends[i] > keep_for then keep_for = ends[i] end
end
if allowed and charge then
  redis.call('SET', KEYS[1], table.concat(parts, ','), 'PX', math.floor(keep_for / 1000) + 1)
end
return {allowed and 1 or 0, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000), refusing}
