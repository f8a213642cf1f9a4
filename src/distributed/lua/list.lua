-- LIST (shard, read only): the state of every active channel of the shard and of the remembered idle ones.
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', SH.chans)) do out[#out + 1] = channel_stats(chan(key)) end
for _, key in ipairs(redis.call('ZRANGE', SH.idle, 0, -1)) do
  local st = channel_stats(chan(key))
  if st then out[#out + 1] = st end
end
return reply({ list = out })
