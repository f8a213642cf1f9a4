-- SEAL: one channel's open batch now, with reason ARGV[9] (admin flush).
local c = chan(ARGV[7])
if redis.call('LLEN', c.o) == 0 then return reply({}) end
local sealed = seal_open(c, channel_settings(c, BASE_SETTINGS), ARGV[9], now())
return reply({ sealed = sealed })
