-- CLAIM: a worker's delivery of batch ARGV[9]. Stale unless it is the channel's in-flight batch; else a
-- new token voids every earlier delivery's fence, and the entry is the reply's second element.
local c = chan(ARGV[7])
local f = redis.call('HMGET', c.h, 'fid', 'fgen', 'fseq', 'ov')
if f[1] ~= ARGV[9] then return reply({ stale = true }) end
local token = redis.call('HINCRBY', c.h, 'tok', 1)
redis.call('HSET', c.h, 'ftok', fmt(token))
return reply({ ov = f[4] or nil, gen = f[2], seq = f[3], token = fmt(token) }, { redis.call('GET', c.f) })
