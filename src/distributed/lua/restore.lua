-- RESTORE: an already-sealed batch (spool replay) goes to the back of its channel's queue.
-- ARGV[9]: messages JSON array, ARGV[10]: batch id, ARGV[11]: size, ARGV[12]: firstAt, ARGV[13]: lastAt,
-- ARGV[14]: its flush reason ('' = none).
local c = chan(ARGV[7])
activate(c)
local s = channel_settings(c, BASE_SETTINGS)
local size = tonumber(ARGV[11])
redis.call('HINCRBY', c.h, 'received', size)
redis.call('HINCRBY', c.h, 'batches', 1)
local h = { id = ARGV[10], seq = next_seq(), sealedAt = now(), attempt = 1, size = size,
  firstAt = tonumber(ARGV[12]), lastAt = tonumber(ARGV[13]), reason = ARGV[14] ~= '' and ARGV[14] or nil }
local n = redis.call('RPUSH', c.q, entry(h, ARGV[9]))
local answer = { id = h.id, size = size, reason = h.reason or 'shutdown' }
return reply({ sealed = seal_result(c, s, answer, n == 1 and h.seq or nil) })
