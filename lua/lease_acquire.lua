-- Grants a lease with a fencing token, or says who holds it.
-- KEYS[1] lease hash   "<prefix>:lease:{<name>}"
-- KEYS[2] fence        "<prefix>:lease:{<name>}:fence" (highest token granted)
-- KEYS[3] abandon mark "<prefix>:lease:{<name>}:abandoned:<owner>:<request id>" (optional):
--                      set when the daemon gave up on this request before Redis ran it
--                      (lua/lease_abandon.lua); such a request grants nothing
-- ARGV[1] owner id (unique per daemon connection), ARGV[2] ttl_ms, ARGV[3] node id,
-- ARGV[4] client description, ARGV[5] meta, ARGV[6] lock_delay_ms (applies if this holder
-- is lost uncleanly), ARGV[7] token floor: the highest token the calling daemon has seen (kept
-- across its restarts) or its clock in microseconds, whichever is higher, or 0,
-- ARGV[8] watch channel of this name: a new grant is announced there as
-- "acquired <token> <ttl_ms> <node> uid=<uid> <meta>" (uid from the client description, or
-- "-"; model/lease/grant_announcement.hpp) for daemons whose clients LEASE WATCH it
-- (publishing to a channel nobody listens to costs Redis a hash lookup), ARGV[9] the request's
-- id (optional): the grant remembers which request of its owner it answers, so that the
-- abandon of an earlier request whose answer came too late (lua/lease_abandon.lua) cannot
-- take a later grant of the same owner, ARGV[10] how to announce on the watch channel:
-- "SPUBLISH" on a Redis Cluster, where the channel shares the lease's slot and only the nodes
-- serving it carry the message (redis/shard_channels.hpp); "PUBLISH" (or absent) elsewhere
--
-- Tokens strictly increase per name, also after Redis lost the fence key (restart without
-- persistence, failover): a token is at least Redis TIME in microseconds, an epoch that a
-- restart does not reset, and above both the stored fence and the caller's floor, which holds
-- when Redis' clock is behind as well (model/lease/token_floor.hpp).
--
-- The hash lives ttl + lock_delay: valid_until says when the holder's right ends, and the
-- rest of the key's life is the lock-delay during which nobody may take the name after an
-- unclean loss (a clean release deletes the key, so no delay).
-- Reply: {1, token, ttl_ms, "granted"|"held"} or {0, reason, owner, node, client, token,
-- remaining_ms} with reason "held", "lock-delay" or "abandoned" (nobody waits for that answer).
if KEYS[3] and redis.call('DEL', KEYS[3]) == 1 then
  return {0, 'abandoned', '', '', '', 0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[2])
local lock_delay = tonumber(ARGV[6])
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'valid_until', 'node', 'client')
if current[1] then
  local valid_until = tonumber(current[3])
  if current[1] == ARGV[1] and now < valid_until then
    -- The same owner asks again (a retry after a lost reply): it still holds the lease.
    redis.call('HSET', KEYS[1], 'valid_until', string.format('%d', now + ttl * 1000), 'req',
               ARGV[9] or '')
    redis.call('PEXPIRE', KEYS[1], ttl + lock_delay)
    return {1, tonumber(current[2]), ttl, 'held'}
  end
  if now < valid_until then
    return {0, 'held', current[1], current[4], current[5], tonumber(current[2]),
            math.floor((valid_until - now) / 1000)}
  end
  -- Expired without a release: the lock-delay runs until the key itself expires.
  local delay_left = redis.call('PTTL', KEYS[1])
  if delay_left > 0 then
    return {0, 'lock-delay', current[1], current[4], current[5], tonumber(current[2]), delay_left}
  end
end
local token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[7])) + 1
if token < now then token = now end
local token_text = string.format('%d', token)
redis.call('SET', KEYS[2], token_text, 'PX', 30 * 24 * 3600 * 1000)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token_text,
           'valid_until', string.format('%d', now + ttl * 1000), 'node', ARGV[3],
           'client', ARGV[4], 'meta', ARGV[5], 'acquired_at', string.format('%d', now),
           'lock_delay', ARGV[6], 'req', ARGV[9] or '')
redis.call('PEXPIRE', KEYS[1], ttl + lock_delay)
if ARGV[8] and ARGV[8] ~= '' then
  local uid = string.match(ARGV[4], '^uid=(%d+)') or '-'
  local publish = ARGV[10] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
  redis.call(publish, ARGV[8], 'acquired ' .. token_text .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] ..
             ' uid=' .. uid .. ' ' .. ARGV[5])
end
return {1, token, ttl, 'granted'}
