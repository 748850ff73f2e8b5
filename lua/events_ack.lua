-- EVENTS GROUP ACK: acknowledges a group's events and, when the config asks for it, trims the
-- entries every group of the topic has acknowledged: those before the oldest still pending in
-- any group, and not past any group's last delivered one.
-- KEYS[1] the stream; ARGV[1] group, ARGV[2] "trim" or "", ARGV[3..] the ids
-- Reply: {acknowledged, trimmed}
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
local acked = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
local trimmed = 0
-- (A stream Redis lost has no groups to ask.)
if ARGV[2] == 'trim' and redis.call('EXISTS', KEYS[1]) == 1 then
  -- The first id no group still needs: per group, its oldest pending id, or the one just
  -- after its last delivered id; the smallest over the groups.
  local function after(id)
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    return ms .. '-' .. string.format('%.0f', tonumber(seq) + 1)
  end
  local function less(a, b)
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    if #am ~= #bm then return #am < #bm end
    if am ~= bm then return am < bm end
    return tonumber(as) < tonumber(bs)
  end
  local keep = nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name, last = nil, nil
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j + 1] end
      if g[j] == 'last-delivered-id' then last = g[j + 1] end
    end
    local first = after(last)
    local pending = redis.call('XPENDING', KEYS[1], name)
    if pending[1] > 0 and less(pending[2], first) then first = pending[2] end
    if keep == nil or less(first, keep) then keep = first end
  end
  if keep ~= nil then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', keep) end
end
return {acked, trimmed}
