-- PUBLISH REPLY: XADD the reply ARGV[13] to stream KEYS[11] (trimmed near ARGV[14]) only while the fence
-- (batch ARGV[9], gen ARGV[10], seq ARGV[11], token ARGV[12]) is current: a stale worker's reply is dropped.
local c = chan(ARGV[7])
if not fenced(c, ARGV[9], ARGV[10], ARGV[11], ARGV[12]) then return reply({ ok = false }) end
redis.call('XADD', KEYS[11], 'MAXLEN', '~', ARGV[14], '*', 'reply', ARGV[13])
-- A gateway's own stream (web chat) dies with the gateway: it expires an hour after its last reply.
if string.find(KEYS[11], ':replies:gw:', 1, true) then redis.call('PEXPIRE', KEYS[11], 3600000) end
return reply({ ok = true })
