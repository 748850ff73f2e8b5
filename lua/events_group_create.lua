-- EVENTS GROUP CREATE: a consumer group on a topic, starting where the caller chose: "$" (only
-- events published from now on), "0" (everything the stream keeps) or an event id. Creating
-- a group that exists changes nothing (a fleet of daemons may each create it at start).
-- KEYS[1] the stream; ARGV[1] group, ARGV[2] where it starts
-- Reply: 1 made, 0 it was there
local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
if type(r) == 'table' and r.err then
  if string.find(r.err, '^BUSYGROUP') then return 0 end
  return redis.error_reply(r.err)
end
return 1
