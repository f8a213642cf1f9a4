-- DRAIN (shard): removes every waiting batch of every channel of the shard (shutdown spool): per channel
-- its queued entries then its open batch. meta.groups lists { k = channel, n = entries } in blob order.
local groups, blobs = {}, {}
for _, key in ipairs(redis.call('SMEMBERS', SH.chans)) do
  local c = chan(key)
  local n = 0
  for _, e in ipairs(redis.call('LRANGE', c.q, 0, -1)) do
    blobs[#blobs + 1] = e
    n = n + 1
  end
  local msgs = redis.call('LRANGE', c.o, 0, -1)
  if #msgs > 0 then
    local f = redis.call('HMGET', c.h, 'oid', 'of', 'ol')
    local h = { id = f[1], seq = 0, sealedAt = now(), attempt = 1, size = #msgs, firstAt = tonumber(f[2]), lastAt = tonumber(f[3]) }
    blobs[#blobs + 1] = entry(h, '[' .. table.concat(msgs, ',') .. ']')
    n = n + 1
  end
  if n > 0 then
    groups[#groups + 1] = { k = key, n = n }
    redis.call('DEL', c.o, c.q)
    redis.call('HDEL', c.h, 'dl', 'oid', 'of', 'ol', 'hu', 'fp', 'hr')
    redis.call('ZREM', SH.due, key)
    sync_ready(c)
    evict_if_idle(c)
  end
end
return reply({ groups = groups }, blobs)
