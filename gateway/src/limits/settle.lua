-- Settles a token reservation: the difference between used and reserved tokens is given back
-- (negative) or charged (positive) on both quotas.
-- KEYS[1]: minute key, KEYS[2]: day key ("" = no such quota)
-- ARGV: used - reserved (signed), tokens per minute
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local delta = tonumber(ARGV[1])
local minute = 60000000

if KEYS[1] ~= '' then
  local tat = tonumber(redis.call('GET', KEYS[1]))
  -- A key that expired is a full allowance: nothing to give back, only a charge to record.
  if tat or delta > 0 then
    tat = math.max(tat or now, now) + delta * minute / tonumber(ARGV[2])
    if tat > now then
      redis.call('SET', KEYS[1], math.ceil(tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
    else
      redis.call('DEL', KEYS[1])
    end
  end
end
if KEYS[2] ~= '' and delta ~= 0 then
  local used = redis.call('INCRBY', KEYS[2], delta)
  if used < 0 then redis.call('SET', KEYS[2], 0) end
  redis.call('EXPIRE', KEYS[2], 172800)
end
return 1
