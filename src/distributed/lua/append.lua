-- APPEND: a message joins its channel's open batch (or is its own batch when `disabled`); the batch
-- seals here when it reaches maxBatchSize, and its deadline is written in the same step, so no window
-- can exist without a deadline. KEYS[11]: the message id's dedupe key. ARGV[9]: message JSON,
-- ARGV[10]: dedupe TTL ms.
local c = chan(ARGV[7])
if not redis.call('SET', KEYS[11], '1', 'NX', 'PX', ARGV[10]) then
  return reply({ s = 'duplicate', ov = redis.call('HGET', c.h, 'ov') or nil })
end
activate(c)
local f = redis.call('HMGET', c.h, 'ov', 'st', 'of', 'hu')
local ov = f[1] or nil
local s = settings(BASE_SETTINGS, ov)
-- sealDue and sealAll read the settings of channels they find: keep the caller's base here.
if f[2] ~= BASE_SETTINGS then redis.call('HSET', c.h, 'st', BASE_SETTINGS) end
redis.call('HINCRBY', c.h, 'received', 1)
local open = redis.call('LLEN', c.o)

if s.overflow == 'reject' and open == 0 and redis.call('LLEN', c.q) >= s.maxQueuedBatches then
  redis.call('HINCRBY', c.h, 'dropped', 1)
  -- A refused message was not taken: the sender's retry must not be answered "duplicate".
  redis.call('DEL', KEYS[11])
  emit({ t = 'message.dropped', k = c.key, count = 1, reason = 'rejected' })
  return reply({ s = 'rejected', ov = ov })
end

local now_text = fmt(now())
if s.disabled then
  local sealed
  if open > 0 then
    -- Turned on while a window was open: the open messages go first, in the same batch.
    redis.call('RPUSH', c.o, ARGV[9])
    redis.call('HSET', c.h, 'ol', now_text)
    sealed = seal_open(c, s, 'disabled', now())
  else
    local h = { id = new_id(), size = 1, firstAt = now(), lastAt = now(), reason = 'disabled' }
    sealed = seal_batch(c, s, h, '[' .. ARGV[9] .. ']', now())
  end
  return reply({ s = 'sealed', sealed = sealed, ov = ov })
end

-- The hot path: one HSET for the window's bounds and deadline, one RPUSH, one ZADD.
local first = open == 0 and now() or tonumber(f[3])
local pending = open + 1
if pending >= s.maxBatchSize then
  if open == 0 then redis.call('HSET', c.h, 'oid', new_id(), 'of', now_text, 'ol', now_text) else redis.call('HSET', c.h, 'ol', now_text) end
  redis.call('RPUSH', c.o, ARGV[9])
  local sealed = seal_open(c, s, 'size', now())
  return reply({ s = 'sealed', sealed = sealed, ov = ov })
end
local deadline = window_deadline(first, now(), open == 0 and 0 or tonumber(f[4] or '0'), s)
if open == 0 then
  redis.call('HSET', c.h, 'oid', new_id(), 'of', now_text, 'ol', now_text, 'dl', fmt(deadline))
else
  redis.call('HSET', c.h, 'ol', now_text, 'dl', fmt(deadline))
end
redis.call('RPUSH', c.o, ARGV[9])
redis.call('ZADD', SH.due, fmt(deadline), c.key)
return reply({ s = 'open', pending = pending, deadline = deadline, ov = ov })
