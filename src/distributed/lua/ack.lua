-- ACK: FINISH with outcome ARGV[13], only while the fence (ARGV[9..12] as in publish-reply) is current.
local c = chan(ARGV[7])
local current, flags = fenced(c, ARGV[9], ARGV[10], ARGV[11], ARGV[12])
if not current then return reply({ cur = false }) end
return finish_reply(finish(c, ARGV[9], ARGV[13], flags))
