-- DEDUP GET: a key's state and result and how long it lasts, read in one step.
-- KEYS[1] the dedup hash
-- Reply: {} when absent, else {state, result, ms left}
local state = redis.call('HMGET', KEYS[1], 'state', 'result')
if not state[1] then return {} end
return {state[1], state[2] or '', redis.call('PTTL', KEYS[1])}
