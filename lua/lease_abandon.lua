-- Gives up a grant its requester never heard of: a LEASE ACQUIRE whose call ran out of budget
-- may or may not have been granted. Sent after it on the same connection (so Redis runs it
-- after), it releases the lease only if it is this very request's grant: its owner id (unique
-- per client connection and daemon run) and its request id. A later grant of the same owner
-- (the client asked again, and got it) is another request's and stays. Safe to send whatever
-- happened; afterwards the answer is certain: the request holds nothing, and nobody waits out
-- a TTL for a grant nobody tracks.
-- When the request holds nothing, its acquire ran without a grant or has not run yet: a retry
-- of this abandon goes out on a new connection when the first one broke, and Redis need not run
-- two connections' calls in the order they were sent. So the request is also marked abandoned
-- (KEYS[2], a key of its own): lua/lease_acquire.lua grants nothing to a marked request. The
-- mark lives the lease's TTL plus a minute: an acquire later than that would have run out its
-- lease by the time it ends, had it been granted at once.
-- KEYS[1] lease hash, KEYS[2] this request's abandon mark (optional);
-- ARGV[1] owner id, ARGV[2] event channel, ARGV[3] name, ARGV[4] request id, ARGV[5] ttl_ms of
-- the acquire (optional)
-- Reply: the token released, or 0 when the request held nothing
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'req')
if not current[1] or current[1] ~= ARGV[1] or current[3] ~= ARGV[4] then
  if KEYS[2] and ARGV[5] then
    redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[5]) + 60000)
  end
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'released ' .. ARGV[3] .. ' ' .. current[2])
return tonumber(current[2])
