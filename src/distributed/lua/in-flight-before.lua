-- IN FLIGHT BEFORE (shard, read only): batches that went in flight from ARGV[11] (inclusive, or -inf)
-- until before ARGV[9], at most ARGV[10], oldest first, with whether their BullMQ job was recorded.
local r = redis.call('ZRANGEBYSCORE', SH.inflight, ARGV[11], '(' .. ARGV[9], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[10]))
local out = {}
for i = 1, #r, 2 do
  local f = redis.call('HMGET', chan(r[i]).h, 'fid', 'enq')
  if f[1] then out[#out + 1] = { k = r[i], id = f[1], at = tonumber(r[i + 1]), enq = f[2] == '1' } end
end
return reply({ list = out })
