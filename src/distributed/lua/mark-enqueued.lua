-- MARK ENQUEUED: the BullMQ job of in-flight batch ARGV[9] exists; false when it is no longer in flight.
local c = chan(ARGV[7])
if redis.call('HGET', c.h, 'fid') ~= ARGV[9] then return reply({ ok = false }) end
redis.call('HSET', c.h, 'enq', '1')
return reply({ ok = true })
