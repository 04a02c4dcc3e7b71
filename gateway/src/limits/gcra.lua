-- GCRA for a user limit and a tenant limit in one atomic step: the request is admitted only if
-- both allow it, and only then do both consume. Server time (TIME) keeps replicas consistent.
-- KEYS[1]: user key, KEYS[2]: tenant key ("" = no such limit)
-- ARGV: user interval µs, user burst, tenant interval µs, tenant burst
-- Returns {admitted, refused_by (1 user, 2 tenant), retry_after_us, tenant_remaining (-1 = none)}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function probe(key, interval, burst)
  if key == '' then return nil end
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if allow_at > now then return {false, allow_at - now, 0, new_tat} end
  return {true, 0, math.floor((now - allow_at) / interval), new_tat}
end

local user = probe(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if user and not user[1] then return {0, 1, user[2], 0} end
local tenant = probe(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
if tenant and not tenant[1] then return {0, 2, tenant[2], 0} end

local function commit(key, state)
  if state then redis.call('SET', key, state[4], 'PX', math.ceil((state[4] - now) / 1000) + 1) end
end
commit(KEYS[1], user)
commit(KEYS[2], tenant)
if tenant then return {1, 0, 0, tenant[3]} end
return {1, 0, 0, -1}
