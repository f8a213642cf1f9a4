-- SEAL DUE (shard): seals the open batch of every channel of the shard whose deadline passed, at most
-- ARGV[9]. Any gateway may run it: the check and the seal are one step, so a window seals once and
-- never early.
local due = redis.call('ZRANGEBYSCORE', SH.due, '-inf', fmt(now()), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[9]))
local out = {}
for i = 1, #due, 2 do
  local c = chan(due[i])
  local deadline = tonumber(due[i + 1])
  if redis.call('LLEN', c.o) == 0 then
    redis.call('ZREM', SH.due, c.key)
  else
    local s = channel_settings(c, nil)
    local reason = (deadline >= tonumber(redis.call('HGET', c.h, 'of')) + s.maxWaitMs) and 'maxWait' or 'window'
    out[#out + 1] = seal_open(c, s, reason, deadline)
    sync_ready(c)
  end
end
return reply({ sealed = out })
