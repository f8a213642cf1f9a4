-- APPEND: a message joins its channel's open batch (or is its own batch when `disabled`); the batch
-- seals here when it reaches maxBatchSize, and its deadline is written in the same step, so no window
-- can exist without a deadline. KEYS[11]: the message id's dedupe key. ARGV[9]: message JSON,
-- ARGV[10]: dedupe TTL ms. ARGV[11..13]: what the message says about the turn (src/core/turn-rules.ts,
-- evaluated by the caller): '1' when it has an odd number of ``` fences, the content rule its text
-- matches ('' none), '1' when it matches flushOn. The batch's fence parity ('fp') and the hold cause of
-- its latest message ('hr') live in the channel hash, so the hold and the seal are decided here, in one step.
-- ARGV[14]: the message id when the caller wants `message.appended`, else ''.
-- ARGV[15]: '1' when the channel is an author's key (`groupBy: author`) whose base settings (ARGV[8])
-- are its channel's; else a channel grouped by author answers 'regroup' and changes nothing, so the
-- caller appends again to the author's key.
local c = chan(ARGV[7])
if ARGV[15] ~= '1' then
  local ov0 = redis.call('HGET', c.h, 'ov') or nil
  if settings(BASE_SETTINGS, ov0).groupBy == 'author' then return reply({ s = 'regroup', ov = ov0 }) end
end
if not redis.call('SET', KEYS[11], '1', 'NX', 'PX', ARGV[10]) then
  return reply({ s = 'duplicate', ov = redis.call('HGET', c.h, 'ov') or nil })
end
activate(c)
local f = redis.call('HMGET', c.h, 'ov', 'st', 'of', 'hu', 'oid', 'w', 'fp', 'hr')
local ov = f[1] or nil
local s = settings(BASE_SETTINGS, ov)
-- sealDue and sealAll read the settings of channels they find: keep the caller's base here.
if f[2] ~= BASE_SETTINGS then redis.call('HSET', c.h, 'st', BASE_SETTINGS) end
redis.call('HINCRBY', c.h, 'received', 1)
-- An open batch's bounds ('oid', 'of', 'ol') are written with its first message and removed with its
-- list (seal_open, clear, drain), so 'of' tells whether a window is open and RPUSH answers its length.
local has_open = f[3] ~= false

if s.overflow == 'reject' and not has_open and redis.call('LLEN', c.q) >= s.maxQueuedBatches then
  redis.call('HINCRBY', c.h, 'dropped', 1)
  -- A refused message was not taken: the sender's retry must not be answered "duplicate".
  redis.call('DEL', KEYS[11])
  emit({ t = 'message.dropped', k = c.key, count = 1, reason = 'rejected' })
  return reply({ s = 'rejected', ov = ov })
end

local now_text = fmt(now())
-- `message.appended` (before the seal it may cause), only for a caller that listens.
local function appended(batch_id, opened, deadline)
  if ARGV[14] == '' then return end
  emit({ t = 'message.appended', k = c.key, batchId = batch_id, messageId = ARGV[14], opened = opened, deadline = deadline })
end
if s.disabled then
  local sealed
  if has_open then
    -- Turned on while a window was open: the open messages go first, in the same batch.
    redis.call('RPUSH', c.o, ARGV[9])
    appended(f[5], false)
    sealed = seal_open(c, s, 'disabled', now(), nil, { f[5], f[3], now_text, f[6] })
  else
    local h = { id = new_id(), size = 1, firstAt = now(), lastAt = now(), reason = 'disabled' }
    appended(h.id, true)
    sealed = seal_batch(c, s, h, '[' .. ARGV[9] .. ']', now(), f[6] == '1')
  end
  return reply({ s = 'sealed', sealed = sealed, ov = ov })
end

-- The hot path: one RPUSH, one HSET for the window's bounds and deadline, one ZADD.
local pending = redis.call('RPUSH', c.o, ARGV[9])
local opens = pending == 1
local keyword = ARGV[13] == '1'
local oid = opens and new_id() or f[5]
if keyword or pending >= s.maxBatchSize then
  appended(oid, opens)
  -- The bounds go straight into the seal (which clears them), not through the hash.
  local bounds = opens and { oid, now_text, now_text, f[6] } or { f[5], f[3], now_text, f[6] }
  return reply({ s = 'sealed', sealed = seal_open(c, s, keyword and 'keyword' or 'size', now(), nil, bounds), ov = ov })
end
local first = opens and now() or tonumber(f[3])
local fence = opens and 0 or tonumber(f[7] or '0')
if ARGV[11] == '1' then fence = 1 - fence end
local cause = nil
if fence == 1 then cause = 'openFence' elseif ARGV[12] ~= '' then cause = ARGV[12] end
local deadline = window_deadline(first, now(), opens and 0 or tonumber(f[4] or '0'), s, cause ~= nil)
appended(oid, opens, deadline)
local fields
if opens then
  fields = { 'oid', oid, 'of', now_text, 'ol', now_text, 'dl', fmt(deadline) }
else
  fields = { 'ol', now_text, 'dl', fmt(deadline) }
end
if fence == 1 and f[7] ~= '1' then fields[#fields + 1] = 'fp'; fields[#fields + 1] = '1' end
if cause and cause ~= f[8] then fields[#fields + 1] = 'hr'; fields[#fields + 1] = cause end
redis.call('HSET', c.h, unpack(fields))
if fence == 0 and f[7] then redis.call('HDEL', c.h, 'fp') end
if not cause and f[8] then redis.call('HDEL', c.h, 'hr') end
redis.call('ZADD', SH.due, fmt(deadline), c.key)
if cause then report_held(c, cause, math.min(now() + s.windowMs, first + s.maxWaitMs), deadline) end
return reply({ s = 'open', pending = pending, deadline = deadline, ov = ov })
