-- APPEND: a message joins its channel's open batch (or is its own batch when `disabled`); the batch
-- seals here when it reaches maxBatchSize, and its deadline is written in the same step, so no window
-- can exist without a deadline. KEYS[11]: the message id's dedupe key. ARGV[9]: message JSON,
-- ARGV[10]: dedupe TTL ms.
local c = chan(ARGV[7])
if not redis.call('SET', KEYS[11], '1', 'NX', 'PX', ARGV[10]) then
  return reply({ s = 'duplicate', ov = redis.call('HGET', c.h, 'ov') or nil })
end
activate(c)
local s, ov = channel_settings(c, BASE_SETTINGS)
-- sealDue and sealAll read the settings of channels they find: keep the caller's base here.
if redis.call('HGET', c.h, 'st') ~= BASE_SETTINGS then redis.call('HSET', c.h, 'st', BASE_SETTINGS) end
redis.call('HINCRBY', c.h, 'received', 1)
local open = redis.call('LLEN', c.o)

if s.overflow == 'reject' and open == 0 and redis.call('LLEN', c.q) >= s.maxQueuedBatches then
  redis.call('HINCRBY', c.h, 'dropped', 1)
  -- A refused message was not taken: the sender's retry must not be answered "duplicate".
  redis.call('DEL', KEYS[11])
  emit({ t = 'message.dropped', k = c.key, count = 1, reason = 'rejected' })
  return reply({ s = 'rejected', ov = ov })
end

if s.disabled then
  local sealed
  if open > 0 then
    -- Turned on while a window was open: the open messages go first, in the same batch.
    redis.call('RPUSH', c.o, ARGV[9])
    redis.call('HSET', c.h, 'ol', fmt(NOW))
    sealed = seal_open(c, s, 'disabled', NOW)
  else
    local h = { id = new_id(), size = 1, firstAt = NOW, lastAt = NOW, reason = 'disabled' }
    sealed = seal_batch(c, s, h, '[' .. ARGV[9] .. ']', NOW)
  end
  sync_ready(c)
  return reply({ s = 'sealed', sealed = sealed, ov = ov })
end

if open == 0 then
  redis.call('HSET', c.h, 'oid', new_id(), 'of', fmt(NOW), 'ol', fmt(NOW))
else
  redis.call('HSET', c.h, 'ol', fmt(NOW))
end
local pending = redis.call('RPUSH', c.o, ARGV[9])
if pending >= s.maxBatchSize then
  local sealed = seal_open(c, s, 'size', NOW)
  sync_ready(c)
  return reply({ s = 'sealed', sealed = sealed, ov = ov })
end
return reply({ s = 'open', pending = pending, deadline = arm(c, s), ov = ov })
