-- Closes a session: its record, state and any outstanding resume token are gone at once.
-- Only the uid that opened it may, or an admin (the daemon passes "*" for one).
-- The daemon also closes the session an OPEN may have made when Redis did not answer the OPEN.
-- It sends the close after the open on the same connection, but when that connection broke,
-- the retry goes out on another, and the open may still run after it: so that close leaves a
-- placeholder where the session would be (ARGV[4]: how long, in ms), and lua/session_open.lua
-- answers "exists" to an open that comes later. The placeholder has no session's fields:
-- every other script reads it as gone.
-- KEYS[1] session hash; ARGV[1] events channel, ARGV[2] session id, ARGV[3] the caller's uid,
-- ARGV[4] placeholder ms when there is no session (optional)
-- Reply: {1, user, owner} or {0, "gone"} or {0, "noperm"} (another uid's)
local s = redis.call('HMGET', KEYS[1], 'user', 'owner', 'uid')
if not s[1] then
  if ARGV[4] and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HSET', KEYS[1], 'abandoned', '1')
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  return {0, 'gone'}
end
if s[3] and ARGV[3] ~= '*' and s[3] ~= ARGV[3] then return {0, 'noperm'} end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'closed ' .. ARGV[2] .. ' ' .. s[2])
return {1, s[1], s[2]}
