-- CHANGE: message ARGV[9] was edited or deleted on its platform (as the in-memory store's change step).
-- ARGV[10]: the id as JSON (messages are stored as JSON with "id" first), ARGV[11]: 'edit' | 'delete',
-- ARGV[12]: the new text as JSON, ARGV[13]: editAfterReply of the channel's base settings, ARGV[14]: a
-- follow-up message JSON for an answered message ('' when the caller has no author). KEYS[11]: the id's
-- dedupe key, which append set: a message found nowhere else but there was accepted and is done.
--
-- Messages are edited as text, never re-encoded (cjson would turn an empty array into {}): a message's
-- JSON is `{"id":…,…,"text":…,["editedAt":…,]["edited":true,]"queuedAt":…,…}` (model.ts messageToJSON),
-- so the text's value ends where `,"queuedAt":` starts (no raw quote can occur inside a JSON string).
local c = chan(ARGV[7])
local id = ARGV[9]
local prefix = '{"id":' .. ARGV[10] .. ','
local deleting = ARGV[11] == 'delete'
local event = deleting and 'message.deleted' or 'message.edited'

local function done(applied, batch_id, extra)
  local ev = { t = event, k = c.key, messageId = id, applied = applied, batchId = batch_id }
  emit(ev)
  local out = extra or {}
  out.applied = applied
  out.batchId = batch_id
  return reply(out)
end

-- The top-level elements of a JSON array's text, as strings.
local function elements(body)
  local out, depth, in_str, esc, start = {}, 0, false, false, 0
  for i = 1, #body do
    local b = string.byte(body, i)
    if in_str then
      if esc then esc = false elseif b == 92 then esc = true elseif b == 34 then in_str = false end
    elseif b == 34 then
      in_str = true
    elseif b == 123 or b == 91 then
      depth = depth + 1
      if depth == 2 then start = i end
    elseif b == 125 or b == 93 then
      if depth == 2 then out[#out + 1] = string.sub(body, start, i) end
      depth = depth - 1
    end
  end
  return out
end

local function is_it(m)
  return string.sub(m, 1, #prefix) == prefix
end

-- The message with the new text and `editedAt` (and `"edited":true` when `mark` or it had it).
local function edited(m, mark)
  local ts = string.find(m, ',"text":', 1, true)
  local te = string.find(m, ',"queuedAt":', ts, true)
  local old = string.sub(m, ts + 8, te - 1)
  local flag = (mark or string.find(old, ',"edited":true', 1, true)) and ',"edited":true' or ''
  return string.sub(m, 1, ts + 7) .. ARGV[12] .. ',"editedAt":' .. fmt(now()) .. flag .. string.sub(m, te)
end

-- Applies the change to a JSON array of messages: the new array and its size, or nil when absent.
local function change_body(body)
  local els = elements(body)
  for i, m in ipairs(els) do
    if is_it(m) then
      if deleting then table.remove(els, i) else els[i] = edited(m, false) end
      return '[' .. table.concat(els, ',') .. ']', #els, m
    end
  end
  return nil
end

if redis.call('SISMEMBER', SH.chans, c.key) == 1 then
  local s = channel_settings(c, BASE_SETTINGS)
  -- The open batch: one list item per message.
  local open = redis.call('LRANGE', c.o, 0, -1)
  for i, m in ipairs(open) do
    if is_it(m) then
      local oid = redis.call('HGET', c.h, 'oid')
      if deleting then
        -- Unique tombstone, then removed: LREM by value would remove an identical earlier message too.
        redis.call('LSET', c.o, i - 1, '\0')
        redis.call('LREM', c.o, 1, '\0')
        if #open == 1 then
          redis.call('HDEL', c.h, 'oid', 'of', 'ol', 'dl', 'hu')
          redis.call('ZREM', SH.due, c.key)
          evict_if_idle(c)
        end
      else
        redis.call('LSET', c.o, i - 1, edited(m, false))
      end
      return done('pending', oid)
    end
  end
  -- The queued batches, in order.
  local queued = redis.call('LRANGE', c.q, 0, -1)
  for i, e in ipairs(queued) do
    local h, body = parse(e)
    local changed, size = change_body(body)
    if changed then
      if size == 0 then
        redis.call('LSET', c.q, i - 1, '\0')
        redis.call('LREM', c.q, 1, '\0')
        check_warn(c, s)
        sync_ready(c)
        evict_if_idle(c)
      else
        h.size = size
        redis.call('LSET', c.q, i - 1, entry(h, changed))
      end
      return done('pending', h.id)
    end
  end
  -- The batch in flight.
  local fid = redis.call('HGET', c.h, 'fid')
  if fid then
    local fe = redis.call('GET', c.f)
    local fh, fbody = parse(fe)
    if s.mode == 'interrupt' then
      local changed, size = change_body(fbody)
      if changed then
        fh.size = size
        redis.call('SET', c.f, entry(fh, changed))
        -- The gateway runs the interrupt step and tells the worker: the batch re-runs as changed.
        return done('in-flight', fid, { abort = true })
      end
    else
      for _, m in ipairs(elements(fbody)) do
        if is_it(m) then
          if deleting then return done('in-flight', fid) end
          -- Queue mode: the run keeps its text; the edited message runs as the next batch (as push-front).
          redis.call('HINCRBY', c.h, 'batches', 1)
          local h = { id = new_id(), size = 1, firstAt = now(), lastAt = now(), attempt = 1, reason = 'admin' }
          h.seq = head_seq(c) or next_seq()
          h.sealedAt = now()
          redis.call('LPUSH', c.q, entry(h, '[' .. edited(m, true) .. ']'))
          emit({ t = 'batch.flushed', k = c.key, batchId = h.id, size = 1, reason = 'admin', deadline = now(), latenessMs = 0, firstAt = h.firstAt })
          check_warn(c, s)
          return done('in-flight', fid, { sealed = seal_result(c, s, h, h.seq) })
        end
      end
    end
  end
end

if redis.call('EXISTS', KEYS[11]) == 0 then return done('unknown', nil) end
local ov = redis.call('HGET', c.h, 'ov')
local after = ARGV[13]
if ov then after = cjson.decode(ov).editAfterReply or after end
if deleting or after ~= 'followUp' or ARGV[14] == '' then return done('done', nil) end
activate(c)
local s = channel_settings(c, BASE_SETTINGS)
redis.call('HINCRBY', c.h, 'received', 1)
local h = { id = new_id(), size = 1, firstAt = now(), lastAt = now(), reason = 'admin' }
return done('done', nil, { sealed = seal_batch(c, s, h, '[' .. ARGV[14] .. ']', now()) })
