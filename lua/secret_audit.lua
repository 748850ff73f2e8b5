-- Appends a batch of audit records to the capped audit stream (no secret values ever).
-- KEYS[1] stream "<prefix>:secret-audit"; ARGV[1] approximate length cap, ARGV[2] fields per
-- record (n), then records of n field/value pairs each
-- Reply: the number of records appended
local cap, n = ARGV[1], tonumber(ARGV[2])
local count = 0
local i = 3
while i + 2 * n - 1 <= #ARGV do
  local entry = {}
  for j = 0, 2 * n - 1 do entry[#entry + 1] = ARGV[i + j] end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', unpack(entry))
  count = count + 1
  i = i + 2 * n
end
return count
