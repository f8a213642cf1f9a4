-- SEAL DUE (shard): seals the open batch of every channel of the shard whose deadline passed, at most
-- ARGV[9]. Any gateway may run it: the check and the seal are one step, so a window seals once and
-- never early.
local due = redis.call('ZRANGEBYSCORE', SH.due, '-inf', fmt(now()), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[9]))
local out = {}
for i = 1, #due, 2 do
  local c = chan(due[i])
  local deadline = tonumber(due[i + 1])
  local msgs = redis.call('LRANGE', c.o, 0, -1)
  if #msgs == 0 then
    redis.call('ZREM', SH.due, c.key)
  else
    -- One read for the settings (override, stored base), the open batch's bounds and the warning flag.
    local f = redis.call('HMGET', c.h, 'ov', 'st', 'oid', 'of', 'ol', 'w')
    local s = settings(f[2] or BASE_SETTINGS, f[1] or nil)
    local reason = (deadline >= tonumber(f[4]) + s.maxWaitMs) and 'maxWait' or 'window'
    out[#out + 1] = seal_open(c, s, reason, deadline, msgs, { f[3], f[4], f[5], f[6] })
  end
end
return reply({ sealed = out })
