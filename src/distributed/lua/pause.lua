-- PAUSE: no batch of the channel is taken until resume; messages keep collecting. Unknown channel: false.
local c = chan(ARGV[7])
if redis.call('EXISTS', c.h) == 0 then return reply({ ok = false }) end
activate(c)
set_paused(c)
sync_ready(c)
return reply({ ok = true })
