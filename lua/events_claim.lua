-- EVENTS GROUP CLAIM: hands a group's events that a consumer took and did not acknowledge for
-- at least min_idle_ms (it died, or hangs) to another consumer (XAUTOCLAIM), a batch at a time.
-- KEYS[1] the stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] min_idle_ms, ARGV[4] count
-- Reply: the claimed entries, {{id, {field, value, ...}}, ...} (deleted ones left out)
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
return r[2]
