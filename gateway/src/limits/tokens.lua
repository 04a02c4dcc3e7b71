-- Token quotas for one tenant in one atomic step: the per-minute weighted GCRA and the per-day
-- counter must both admit the reservation, and only then do both consume it.
-- KEYS[1]: minute key, KEYS[2]: day key ("" = no such quota)
-- ARGV: tokens, tokens per minute, tokens per day
-- Returns {admitted, refused_by (1 minute, 2 day), retry_after_us, used_today}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tokens = tonumber(ARGV[1])
local minute = 60000000

local used = 0
if KEYS[2] ~= '' then
  used = tonumber(redis.call('GET', KEYS[2])) or 0
  if used + tokens > tonumber(ARGV[3]) then return {0, 2, 0, used} end
end

local new_tat = nil
if KEYS[1] ~= '' then
  local per_minute = tonumber(ARGV[2])
  local tat = tonumber(redis.call('GET', KEYS[1])) or now
  if tat < now then tat = now end
  new_tat = tat + tokens * minute / per_minute
  local ahead = new_tat - now
  if ahead > minute then
    if tokens > per_minute then return {0, 1, minute, used} end
    return {0, 1, math.ceil(ahead - minute), used}
  end
end

if new_tat then
  redis.call('SET', KEYS[1], math.ceil(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
end
if KEYS[2] ~= '' then
  used = redis.call('INCRBY', KEYS[2], tokens)
  redis.call('EXPIRE', KEYS[2], 172800)
end
return {1, 0, 0, used}
