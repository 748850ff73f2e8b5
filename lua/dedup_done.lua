-- DEDUP DONE: stores the result of a claimed key for its later duplicates. Only the claim's
-- owner may complete it. If the claim ran out and nobody claimed the key since, the result is
-- still stored (a duplicate arriving now should get it rather than redo the work).
-- KEYS[1] the dedup hash; ARGV[1] owner, ARGV[2] result, ARGV[3] ttl_ms to keep the result
-- Reply: {"stored"} | {"taken", other owner} (claimed by another since) | {"done"} (already,
-- with another result). Storing the result that is already stored answers "stored" again, so
-- a DONE whose answer was lost can be sent again and learn that it landed.
local state = redis.call('HMGET', KEYS[1], 'state', 'owner', 'result')
if state[1] == 'done' then
  if state[3] == ARGV[2] then return {'stored'} end
  return {'done'}
end
if state[1] == 'pending' and state[2] ~= ARGV[1] then return {'taken', state[2]} end
-- Written over in place, never deleted and made again: on a Cluster, a key deleted in a slot
-- that is migrating counts as elsewhere, and the script would stop with the claim gone.
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[2])
redis.call('HDEL', KEYS[1], 'owner', 'req')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'stored'}
