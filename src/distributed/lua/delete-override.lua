-- DELETE OVERRIDE: back to the configured settings; an armed open window is re-timed.
local c = chan(ARGV[7])
if not redis.call('HGET', c.h, 'ov') then return reply({ ok = false }) end
redis.call('HDEL', c.h, 'ov')
local deadline = apply_settings(c, settings(BASE_SETTINGS, nil))
evict_if_idle(c)
return reply({ ok = true, deadline = deadline })
