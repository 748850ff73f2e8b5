-- CACHE DEL and INVALIDATE: deletes entries of keys that share one slot and tells every daemon
-- to drop each from its near cache, in the same step (as lua/cache_set.lua does for a write).
-- INVALIDATE ... PATTERN deletes the matches it scanned with this too, without a message per
-- key (ARGV[2] empty): it publishes the pattern once its deletes are done.
-- KEYS: the entries; ARGV[1] the cache channel; ARGV[2] the namespace, or "" for no messages;
-- ARGV[3..] the app's key of each entry, in KEYS' order
-- Reply: the number of entries deleted
local deleted = 0
for i, key in ipairs(KEYS) do
  deleted = deleted + redis.call('UNLINK', key)
  if ARGV[2] ~= '' then
    redis.call('PUBLISH', ARGV[1], 'k ' .. ARGV[2] .. ' ' .. ARGV[2 + i])
  end
end
return deleted
