-- Gives up a grant its requester never heard of: a LEASE ACQUIRE whose call ran out of budget
-- may or may not have been granted. Sent after it on the same connection (so Redis runs it
-- after), it releases the lease only if it is this very request's grant: its owner id (unique
-- per client connection and daemon run) and its request id. A later grant of the same owner
-- (the client asked again, and got it) is another request's and stays. Safe to send whatever
-- happened; afterwards the answer is certain: the request holds nothing, and nobody waits out
-- a TTL for a grant nobody tracks.
-- KEYS[1] lease hash; ARGV[1] owner id, ARGV[2] event channel, ARGV[3] name, ARGV[4] request id
-- Reply: the token released, or 0 when the request held nothing
local current = redis.call('HMGET', KEYS[1], 'owner', 'token', 'req')
if not current[1] or current[1] ~= ARGV[1] or current[3] ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'released ' .. ARGV[3] .. ' ' .. current[2])
return tonumber(current[2])
