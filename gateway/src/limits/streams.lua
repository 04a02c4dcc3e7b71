-- One of a tenant's concurrent-answer slots, as a lease in a sorted set (member = permit id,
-- score = lease end in ms). Leases of replicas that died expire instead of leaking slots.
-- KEYS[1]: the tenant's lease set. ARGV: permit id, slots, lease ms, mode ("acquire" | "renew")
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
if ARGV[4] == 'renew' then
  redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease * 2)
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
