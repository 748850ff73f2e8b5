-- Releases a pending claim whose holder's connection closed before DEDUP DONE, so that a
-- retry can claim the key at once instead of waiting out the claim's TTL; or the claim of a
-- request whose answer came too late (then ARGV[2] names that request, and a later claim of
-- the same owner stays).
-- KEYS[1] the dedup hash; ARGV[1] owner, ARGV[2] the request's id (optional)
-- Reply: 1 if released, 0 if the key was done, gone or someone else's.
local state = redis.call('HMGET', KEYS[1], 'state', 'owner', 'req')
if state[1] == 'pending' and state[2] == ARGV[1] and
    (not ARGV[2] or ARGV[2] == state[3]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
