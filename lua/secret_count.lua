-- Adds one daemon's usage counts since its last flush to the fleet-wide count per version.
-- KEYS[1] usage hash "<prefix>:secret:{<name>}:usage"; ARGV: version, delta, version, delta...
-- Reply: the number of versions counted
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2
