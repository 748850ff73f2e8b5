-- Hands a session to another node, fenced by the owner epoch: only if it is still owned by
-- `from` at `epoch` (a drain racing a resume or an adoption moves it at most once). A new
-- resume nonce makes the handoff's token the only one that works; an adoption (the owner
-- died, its client never heard of a handoff) passes no nonce, so the client's last token
-- still resumes it. A handoff's new nonce does not cancel the client's last token either
-- (it may never hear the push); whichever is used first cancels both.
-- KEYS[1] session hash; ARGV[1] from node, ARGV[2] expected epoch, ARGV[3] to node,
-- ARGV[4] new nonce or empty (keep the token), ARGV[5] events channel, ARGV[6] session id
-- Reply: {1, new epoch, uid} or {0, "gone"} or {0, "fenced", owner, epoch}; uid is the
-- opener's ("" for a session opened before sessions carried one): only its connections may
-- hear the new token.
local s = redis.call('HMGET', KEYS[1], 'owner', 'epoch', 'uid', 'nonce')
if not s[1] then return {0, 'gone'} end
-- This very move again (its answer was lost, and the drain sends it again): it landed.
if s[1] == ARGV[3] and tonumber(s[2]) == tonumber(ARGV[2]) + 1 and
    (ARGV[4] == '' or s[4] == ARGV[4]) then
  return {1, tonumber(s[2]), s[3] or ''}
end
if s[1] ~= ARGV[1] or s[2] ~= ARGV[2] then return {0, 'fenced', s[1], tonumber(s[2])} end
local epoch = tonumber(s[2]) + 1
redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'epoch', tostring(epoch))
if ARGV[4] ~= '' then
  -- The token the client holds stays good until one of the two is used: the drainer may die
  -- before its handoff-out push reaches the client (the chaos harness's kill-mid-drain),
  -- and then the client can only resume with what it had.
  local held = redis.call('HMGET', KEYS[1], 'token_epoch', 'nonce')
  redis.call('HSET', KEYS[1], 'token_epoch', tostring(epoch), 'nonce', ARGV[4],
             'prev_token_epoch', held[1] or '', 'prev_nonce', held[2] or '')
end
redis.call('PUBLISH', ARGV[5], 'handoff ' .. ARGV[6] .. ' ' .. ARGV[1] .. ' ' .. ARGV[3] .. ' ' ..
           epoch)
return {1, epoch, s[3] or ''}
