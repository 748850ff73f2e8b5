-- EVENTS GROUP READ: the next events of a consumer group for one consumer. A group that is
-- not there (Redis restarted without it, or a failover lost its creation) is made again from
-- the start of what the stream keeps, so a consumer meets no NOGROUP and misses nothing: it
-- may see again events delivered before (consumer groups deliver at least once).
-- KEYS[1] the stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] count
-- Reply: {{id, {field, value, ...}}, ...} as XREADGROUP gives one stream's entries, and
-- whether the group was made again: {entries, 0|1}
local function read()
  return redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS',
                     KEYS[1], '>')
end
local made = 0
local r = read()
if type(r) == 'table' and r.err and string.find(r.err, '^NOGROUP') then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
  made = 1
  r = read()
end
if type(r) == 'table' and r.err then return redis.error_reply(r.err) end
if not r then return {{}, made} end
return {r[1][2], made}
