-- EVENTS GROUP CLAIM: hands a group's events that a consumer took and did not acknowledge for
-- at least min_idle_ms (it died, or hangs) to another consumer (XAUTOCLAIM), up to COUNT. One
-- XAUTOCLAIM looks at no more than ten times its COUNT of pending entries, so a head of the
-- pending list still being worked on would hide idle entries behind it: it goes on from the
-- cursor each answers, until COUNT are claimed or the whole list was looked at (bounded).
-- KEYS[1] the stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] min_idle_ms, ARGV[4] count
-- Reply: the claimed entries, {{id, {field, value, ...}}, ...} (deleted ones left out)
local want = tonumber(ARGV[4])
local out = {}
local cursor = '0-0'
for _ = 1, 100 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT',
                      want - #out)
  for _, e in ipairs(r[2]) do out[#out + 1] = e end
  cursor = r[1]
  if cursor == '0-0' or #out >= want then break end
end
return out
