-- INTERRUPT: the in-flight batch ARGV[9] and everything waiting become one batch at the front, run again
-- as the next attempt.
local c = chan(ARGV[7])
if redis.call('HGET', c.h, 'fid') ~= ARGV[9] then return reply({ cur = false }) end
local s = channel_settings(c, BASE_SETTINGS)
local ih, ibody = parse(redis.call('GET', c.f))
clear_flight(c)
local bodies, size, last = { ibody }, ih.size, ih
for _, e in ipairs(redis.call('LRANGE', c.q, 0, -1)) do
  local h, body = parse(e)
  bodies[#bodies + 1] = body
  size = size + h.size
  last = h
end
local merged = { id = new_id(), seq = ih.seq, sealedAt = ih.sealedAt, attempt = ih.attempt + 1, size = size,
  firstAt = ih.firstAt, lastAt = last.lastAt, reason = last.reason }
redis.call('DEL', c.q)
-- A batch whose every message was deleted while it ran (change.lua) leaves nothing to re-run.
if size > 0 then redis.call('RPUSH', c.q, entry(merged, join(bodies))) end
check_warn(c, s)
emit({ t = 'batch.interrupted', k = c.key, batchId = ARGV[9], size = ih.size })
local nxt = sync_ready(c)
if size == 0 then evict_if_idle(c) end
return finish_reply(true, nxt)
