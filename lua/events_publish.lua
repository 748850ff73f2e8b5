-- EVENTS PUBLISH: appends an event to its topic's stream, trims what is past the length and
-- the age the config keeps (both approximately, "~", which lets Redis drop whole nodes), and
-- tells every daemon that the topic has news (their blocked reads and watchers read again),
-- in one step: a daemon that hears the news finds the event.
-- With a dedup key (KEYS[2], in the topic's slot), a publish whose key was seen within the
-- window appends nothing and answers the first one's id: a publisher that lost an answer (a
-- daemon that died, an UNKNOWN) sends the same event again and it is in the topic once.
-- KEYS[1] the stream "<prefix>:events:{<topic>}", KEYS[2] (optional) its dedup key
-- ARGV[1] payload, ARGV[2] max length, ARGV[3] max age in ms, ARGV[4] the news channel,
-- ARGV[5] the topic, ARGV[6] the dedup window in ms (with KEYS[2])
-- Reply: the event's id
if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return seen end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', ARGV[1])
if KEYS[2] then
  redis.call('SET', KEYS[2], id, 'PX', ARGV[6])
end
local t = redis.call('TIME')
local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
if oldest > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', oldest))
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return id
