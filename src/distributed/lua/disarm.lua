-- DISARM: the open batch loses its deadline; it waits for the next message or an explicit seal.
local c = chan(ARGV[7])
if not redis.call('HGET', c.h, 'dl') then return reply({ ok = false }) end
redis.call('HDEL', c.h, 'dl')
redis.call('ZREM', SH.due, c.key)
return reply({ ok = true })
