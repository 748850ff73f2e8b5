-- Answers Redis' clock as {seconds, microseconds}. Read-only; used by DEBUG RTT to measure a
-- full round trip through the link (EVALSHA included) and by tests of script reloading.
-- Later families take their shared clock the same way: time comes from Redis, not hosts.
local now = redis.call('TIME')
return {tonumber(now[1]), tonumber(now[2])}
