-- FAIL FINALLY: the fenced batch (ARGV[9..12]) failed its last attempt. ARGV[13] 'block': back to the
-- front of its queue and the channel pauses until an operator acts. 'dead-letter': finished as failed,
-- and a copy goes to the shard's dead-letter list KEYS[11] (capped at ARGV[15]) with the error ARGV[14].
local c = chan(ARGV[7])
if not fenced(c, ARGV[9], ARGV[10], ARGV[11], ARGV[12]) then return reply({ cur = false }) end
if ARGV[13] == 'block' then
  release(c, ARGV[9], channel_settings(c, BASE_SETTINGS))
  set_paused(c)
  sync_ready(c)
  return finish_reply(true, nil)
end
local e = redis.call('GET', c.f)
local dead = string.format('{"channelKey":%s,"error":%s,"failedAt":%s}\n%s', cjson.encode(c.key), cjson.encode(ARGV[14]), fmt(now()), e)
redis.call('LPUSH', KEYS[11], dead)
redis.call('LTRIM', KEYS[11], 0, tonumber(ARGV[15]) - 1)
return finish_reply(finish(c, ARGV[9], 'failed'))
