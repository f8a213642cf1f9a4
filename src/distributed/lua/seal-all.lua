-- SEAL ALL (shard): seals every open batch of the shard now with reason ARGV[9] (shutdown).
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', SH.chans)) do
  local c = chan(key)
  if redis.call('LLEN', c.o) > 0 then
    out[#out + 1] = seal_open(c, channel_settings(c, nil), ARGV[9], now())
  end
end
return reply({ sealed = out })
