-- Resumes a session with a resume token's epoch and nonce (the daemon checked its HMAC): the
-- token works once (its nonce is replaced), and never after the session closed or expired.
-- The token a drain's handoff replaced also works, once, until either is used
-- (lua/session_move.lua says why).
-- The resuming node becomes the owner if it was not, and the session is touched.
-- A resume whose answer was lost can be sent again with the same token: the next nonce is
-- derived from the token and the node (model/session/resume_token.hpp), so the same resume
-- finds its own nonce in place, and is answered again, without a change, within ARGV[7] ms of
-- the first and while nothing newer (a resume, a handoff) replaced it.
-- KEYS[1] session hash; ARGV[1] token epoch, ARGV[2] token nonce, ARGV[3] resuming node,
-- ARGV[4] next nonce, ARGV[5] events channel, ARGV[6] session id, ARGV[7] repeat window ms,
-- ARGV[8] the resuming caller's uid: only the uid that opened the session may resume it, even
-- with its token (checked before anything changes, so a refused resume spends nothing)
-- Reply: {1, epoch, field, value, ...} or {0, "gone"|"used"|"noperm"}
local s = redis.call('HMGET', KEYS[1], 'token_epoch', 'nonce', 'owner', 'epoch', 'ttl',
                    'prev_token_epoch', 'prev_nonce', 'resumed_with', 'resumed_at', 'uid')
if not s[1] then return {0, 'gone'} end
if s[10] and ARGV[8] and s[10] ~= ARGV[8] then return {0, 'noperm'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local presented = ARGV[1] .. '.' .. ARGV[2]
local current = s[1] == ARGV[1] and s[2] == ARGV[2]
local before_handoff = s[6] == ARGV[1] and s[7] == ARGV[2] and s[7] ~= ''
if not current and not before_handoff then
  if s[8] == presented and s[2] == ARGV[4] and s[3] == ARGV[3] and
      now < tonumber(s[9] or '0') + tonumber(ARGV[7] or '0') then
    local again = {1, tonumber(s[4])}
    local fields = redis.call('HGETALL', KEYS[1])
    for i = 1, #fields do again[#again + 1] = fields[i] end
    return again
  end
  return {0, 'used'}
end
redis.call('HDEL', KEYS[1], 'prev_token_epoch', 'prev_nonce')
local epoch = tonumber(s[4])
if s[3] ~= ARGV[3] then
  epoch = epoch + 1
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'epoch', tostring(epoch))
end
redis.call('HSET', KEYS[1], 'nonce', ARGV[4], 'token_epoch', tostring(epoch), 'touched',
           string.format('%d', now), 'resumed_with', presented, 'resumed_at',
           string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], s[5])
redis.call('PUBLISH', ARGV[5], 'resumed ' .. ARGV[6] .. ' ' .. ARGV[3] .. ' ' .. epoch)
local reply = {1, epoch}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields do reply[#reply + 1] = fields[i] end
return reply
