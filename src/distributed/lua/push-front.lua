-- PUSH FRONT: a message (ARGV[9] = 'message') or a batch ('batch') goes ahead of everything waiting,
-- not ahead of the one in flight; it takes the queue head's seal order so the channel keeps its place.
-- ARGV[10]: messages JSON array, ARGV[11]: batch id, ARGV[12]: size, ARGV[13]: firstAt, ARGV[14]: lastAt.
local c = chan(ARGV[7])
activate(c)
local s = channel_settings(c, BASE_SETTINGS)
local h
if ARGV[9] == 'message' then
  redis.call('HINCRBY', c.h, 'received', 1)
  h = { id = new_id(), size = 1, firstAt = now(), lastAt = now() }
else
  h = { id = ARGV[11], size = tonumber(ARGV[12]), firstAt = tonumber(ARGV[13]), lastAt = tonumber(ARGV[14]) }
end
redis.call('HINCRBY', c.h, 'batches', 1)
h.seq = head_seq(c) or next_seq()
h.sealedAt = now()
h.attempt = 1
h.reason = 'admin'
redis.call('LPUSH', c.q, entry(h, ARGV[10]))
emit({ t = 'batch.flushed', k = c.key, batchId = h.id, size = h.size, reason = 'admin', deadline = now(), latenessMs = 0, firstAt = h.firstAt })
check_warn(c, s)
return reply({ sealed = seal_result(c, s, h, h.seq) })
