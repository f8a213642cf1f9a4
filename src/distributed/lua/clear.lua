-- CLEAR: discards the open batch and every queued one, never the batch in flight.
local c = chan(ARGV[7])
if redis.call('SISMEMBER', SH.chans, c.key) == 0 then return reply({ removed = 0 }) end
local s = channel_settings(c, BASE_SETTINGS)
local removed = redis.call('LLEN', c.o) + queued_messages(c)
redis.call('DEL', c.o, c.q)
redis.call('HDEL', c.h, 'dl', 'oid', 'of', 'ol', 'hu', 'fp', 'hr')
redis.call('ZREM', SH.due, c.key)
redis.call('HINCRBY', c.h, 'cleared', removed)
check_warn(c, s)
emit({ t = 'queue.cleared', k = c.key, removed = removed })
sync_ready(c)
evict_if_idle(c)
return reply({ removed = removed })
