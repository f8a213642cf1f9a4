-- RESUME: dispatch again; answers the seal order of the batch that can run next. Unknown channel: ok=false.
local c = chan(ARGV[7])
if redis.call('EXISTS', c.h) == 0 then return reply({ ok = false }) end
activate(c)
if redis.call('HGET', c.h, 'p') == '1' then
  redis.call('HDEL', c.h, 'p')
  emit({ t = 'channel.resumed', k = c.key })
end
local nxt = sync_ready(c)
evict_if_idle(c)
return reply({ ok = true, next = nxt and fmt(nxt) or nil })
