-- Shared by every channel and shard script (prepended at load time; see redis-scripts.ts).
--
-- KEYS[1..6]: the shard's keys  due (ZSET channel → open deadline), chans (SET of active channels),
--             inflight (ZSET channel → startedAt), ready (ZSET channel → head seal seq),
--             idle (ZSET remembered idle channel → idle since), seq (last seal seq).
-- ARGV[1..8]: now ('' = Redis TIME), queueWarnRatio, generation, id seed (a fresh batch id from the
--             caller), idle channels remembered per shard, shard base ("bg:{3}"), channel key ('' in
--             shard scripts), base settings of that channel ("windowMs|maxWaitMs|maxBatchSize|disabled|
--             maxQueuedBatches|overflow|mode|typingHoldMs|hold.holdMs|groupBy", the defaults in shard scripts).
--
-- A channel's own keys are built from the shard base (same hash tag, so same Cluster slot): channel
-- scripts also declare them as KEYS[7..10]; shard scripts reach the channels they find in the shard's sets.
--
-- Sealed entries are one string: a small JSON header, a newline, the JSON array of the messages. Scripts
-- read headers only and join message arrays as text, so a message's JSON is never re-encoded here (cjson
-- would turn an empty array into {}). Numbers go out through fmt(): Lua's tostring keeps 14 digits only.

local function fmt(n)
  return string.format('%d', n)
end

-- The step's clock, read once and only by steps that need it: a step that never asks pays no TIME.
local NOW_VALUE = nil
local function now()
  if NOW_VALUE == nil then
    if ARGV[1] == '' then
      local t = redis.call('TIME')
      NOW_VALUE = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    else
      NOW_VALUE = tonumber(ARGV[1])
    end
  end
  return NOW_VALUE
end

local WARN_RATIO = tonumber(ARGV[2])
local GEN = ARGV[3]
local ID_SEED = ARGV[4]
local IDLE_CAP = tonumber(ARGV[5])
local BASE = ARGV[6]
local BASE_SETTINGS = ARGV[8]
local SH = { due = KEYS[1], chans = KEYS[2], inflight = KEYS[3], ready = KEYS[4], idle = KEYS[5], seq = KEYS[6] }

local EVENTS = {}
local function emit(ev)
  EVENTS[#EVENTS + 1] = ev
end

-- The shard's active channel count: shard steps report it (the flusher's seal-due runs on every shard,
-- so a gateway sees other gateways' channels within a pass); channel steps report only the change they
-- made (activate +1, evict -1), which costs no SCARD.
local ACTIVE_DELTA = 0

-- Every reply: a JSON meta (the step's answer, the clock it used if it read one, its events, the
-- shard's active channel count or this step's change of it) followed by raw entry strings.
local function reply(meta, blobs)
  if #EVENTS > 0 then meta.ev = EVENTS end
  if NOW_VALUE ~= nil or #EVENTS > 0 then meta.now = now() end
  if ARGV[7] == '' then
    meta.ac = redis.call('SCARD', SH.chans)
  elseif ACTIVE_DELTA ~= 0 then
    meta.acd = ACTIVE_DELTA
  end
  local out = { cjson.encode(meta) }
  if blobs then
    for i = 1, #blobs do out[#out + 1] = blobs[i] end
  end
  return out
end

-- Batch ids: the caller's fresh id first, then derived ones, so one call never reuses an id.
local ids_used = 0
local function new_id()
  ids_used = ids_used + 1
  if ids_used == 1 then return ID_SEED end
  return ID_SEED .. '.' .. ids_used
end

local function chan(key)
  local p = BASE .. ':'
  return { key = key, h = p .. 'c:' .. key, o = p .. 'o:' .. key, q = p .. 'q:' .. key, f = p .. 'f:' .. key }
end

local function settings(base, ov_json)
  local v = {}
  for part in string.gmatch(base, '[^|]+') do v[#v + 1] = part end
  local s = {
    windowMs = tonumber(v[1]), maxWaitMs = tonumber(v[2]), maxBatchSize = tonumber(v[3]), disabled = v[4] == '1',
    maxQueuedBatches = tonumber(v[5]), overflow = v[6], mode = v[7],
    typingHoldMs = tonumber(v[8] or '0'), holdMs = tonumber(v[9] or '0'), groupBy = v[10] or 'channel',
  }
  if ov_json then
    for k, x in pairs(cjson.decode(ov_json)) do s[k] = x end
    if type(s.hold) == 'table' and s.hold.holdMs then s.holdMs = tonumber(s.hold.holdMs) end
  end
  return s
end

-- The channel's effective settings: the caller's base (or, in shard scripts, the base the last append
-- stored) with the override stored in Redis, which every gateway shares.
local function channel_settings(c, base)
  local f = redis.call('HMGET', c.h, 'ov', 'st')
  local ov = f[1] or nil
  return settings(base or f[2] or BASE_SETTINGS, ov), ov
end

-- ── sealed entries ─────────────────────────────────────────────────────────

local function entry(h, body)
  return string.format('{"id":%s,"seq":%s,"sealedAt":%s,"attempt":%d,"size":%d,"firstAt":%s,"lastAt":%s,"reason":%s}\n%s',
    cjson.encode(h.id), fmt(h.seq), fmt(h.sealedAt), h.attempt, h.size, fmt(h.firstAt), fmt(h.lastAt),
    h.reason and cjson.encode(h.reason) or 'null', body)
end

local function parse(e)
  local nl = string.find(e, '\n', 1, true)
  local h = cjson.decode(string.sub(e, 1, nl - 1))
  if h.reason == cjson.null then h.reason = nil end
  return h, string.sub(e, nl + 1)
end

-- Joins JSON arrays of messages as text: '[a,b]' + '[c]' → '[a,b,c]'.
local function join(bodies)
  local parts = {}
  for i = 1, #bodies do
    local inner = string.sub(bodies[i], 2, -2)
    if inner ~= '' then parts[#parts + 1] = inner end
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- Seal order: Redis ms × 1000, strictly increasing within the shard, so channels of different shards
-- still compare (oldest seal first) and one shard never starves another.
local function next_seq()
  local s = now() * 1000
  local last = tonumber(redis.call('GET', SH.seq) or '0')
  if s <= last then s = last + 1 end
  redis.call('SET', SH.seq, fmt(s))
  return s
end

local function head_seq(c)
  local e = redis.call('LINDEX', c.q, 0)
  if not e then return nil end
  return (parse(e)).seq
end

local function queued_messages(c)
  local n = 0
  for _, e in ipairs(redis.call('LRANGE', c.q, 0, -1)) do n = n + (parse(e)).size end
  return n
end

-- ── channel lifecycle ──────────────────────────────────────────────────────

local function activate(c)
  if redis.call('SADD', SH.chans, c.key) == 1 then
    redis.call('ZREM', SH.idle, c.key)
    ACTIVE_DELTA = ACTIVE_DELTA + 1
  end
end

-- Keeps the shard's `ready` set true (queued, nothing in flight, not paused) and answers the seal order
-- of the batch that can run next, or nil.
local function sync_ready(c)
  local f = redis.call('HMGET', c.h, 'p', 'fid')
  local hs = nil
  if not f[1] and not f[2] then hs = head_seq(c) end
  if hs then
    redis.call('ZADD', SH.ready, fmt(hs), c.key)
  else
    redis.call('ZREM', SH.ready, c.key)
  end
  return hs
end

-- A channel with nothing open, queued, in flight, paused or overridden leaves the active set; its
-- counters stay readable until IDLE_CAP newer channels of the shard went idle after it.
-- evict() is the leaving, for a caller that checked all of that. `finished`: the caller is finish(), which
-- left `ready` already and has just counted an outcome in the hash (so it cannot be empty).
local function evict(c, finished)
  if redis.call('SREM', SH.chans, c.key) == 0 then return end
  ACTIVE_DELTA = ACTIVE_DELTA - 1
  redis.call('HDEL', c.h, 'w', 'dl', 'oid', 'of', 'ol', 'hu', 'fp', 'hr')
  redis.call('ZREM', SH.due, c.key)
  if not finished then redis.call('ZREM', SH.ready, c.key) end
  if IDLE_CAP <= 0 then
    redis.call('DEL', c.h)
    return
  end
  -- Redis drops an empty hash: a channel that only ever had an override must stay readable too.
  if not finished then redis.call('HSETNX', c.h, 'received', '0') end
  redis.call('ZADD', SH.idle, fmt(now()), c.key)
  local extra = redis.call('ZCARD', SH.idle) - IDLE_CAP
  if extra > 0 then
    local old = redis.call('ZPOPMIN', SH.idle, extra)
    for i = 1, #old, 2 do redis.call('DEL', chan(old[i]).h) end
  end
end

local function evict_if_idle(c)
  if redis.call('LLEN', c.o) > 0 or redis.call('LLEN', c.q) > 0 then return end
  local f = redis.call('HMGET', c.h, 'fid', 'p', 'ov')
  if f[1] or f[2] or f[3] then return end
  evict(c)
end

-- `n`: the queue's length, `was`: whether the warning is on ('w'), when the caller knows them.
local function check_warn(c, s, n, was)
  n = n or redis.call('LLEN', c.q)
  local limit = s.maxQueuedBatches
  local over = n >= math.max(1, math.ceil(limit * WARN_RATIO))
  if was == nil then was = redis.call('HGET', c.h, 'w') == '1' end
  if over == was then return end
  if over then redis.call('HSET', c.h, 'w', '1') else redis.call('HDEL', c.h, 'w') end
  emit({ t = over and 'queue.over-warn' or 'queue.under-warn', k = c.key, queuedBatches = n, limit = limit })
end

-- ── sealing ────────────────────────────────────────────────────────────────

-- Every waiting batch becomes one, keeping the head's place (seq, sealedAt, reason): nothing is lost.
local function merge_queue(c)
  local all = redis.call('LRANGE', c.q, 0, -1)
  local first, bodies, size, last = nil, {}, 0, nil
  for i, e in ipairs(all) do
    local h, body = parse(e)
    if i == 1 then first = h end
    last = h
    size = size + h.size
    bodies[#bodies + 1] = body
  end
  local merged = { id = new_id(), seq = first.seq, sealedAt = first.sealedAt, attempt = 1, size = size,
    firstAt = first.firstAt, lastAt = last.lastAt, reason = first.reason }
  redis.call('DEL', c.q)
  redis.call('RPUSH', c.q, entry(merged, join(bodies)))
  emit({ t = 'batch.merged', k = c.key, batchId = merged.id, size = size, batches = #all })
end

-- Answers sealed batch `h` and keeps the shard's `ready` set true, as sync_ready does (the seal steps
-- leave it to this). `hs`: the queue head's seal order when the caller knows it.
local function seal_result(c, s, h, hs)
  -- waits: a batch is in flight or the channel is paused, so taking now would find nothing to do; the
  -- ACK (or resume) that frees the channel dispatches it.
  local busy = redis.call('HMGET', c.h, 'fid', 'p')
  local waits = (busy[1] ~= false) or (busy[2] ~= false)
  hs = hs or head_seq(c)
  if waits then
    redis.call('ZREM', SH.ready, c.key)
  else
    redis.call('ZADD', SH.ready, fmt(hs), c.key)
  end
  return { channelKey = c.key, batchId = h.id, size = h.size, reason = h.reason, mode = s.mode, headSeq = fmt(hs), waits = waits }
end

-- Appends a sealed batch to the channel's queue, applying the overflow policy at the bound.
-- `warned`: whether the queue warning is on ('w'), when the caller read it.
local function seal_batch(c, s, h, body, deadline, warned)
  redis.call('HINCRBY', c.h, 'batches', 1)
  h.seq = next_seq()
  h.sealedAt = now()
  h.attempt = 1
  if redis.call('LLEN', c.q) >= s.maxQueuedBatches then
    if s.overflow == 'drop-oldest' then
      local old = parse(redis.call('LPOP', c.q))
      redis.call('HINCRBY', c.h, 'dropped', old.size)
      emit({ t = 'message.dropped', k = c.key, count = old.size, reason = 'overflow', batchId = old.id })
    else
      -- merge, and reject (whose refusals happen at append): a batch that still overflows is kept
      merge_queue(c)
    end
  end
  local n = redis.call('RPUSH', c.q, entry(h, body))
  check_warn(c, s, n, warned)
  emit({ t = 'batch.flushed', k = c.key, batchId = h.id, size = h.size, reason = h.reason, deadline = deadline, latenessMs = now() - deadline, firstAt = h.firstAt })
  -- Alone in the queue, the new batch is its head.
  return seal_result(c, s, h, n == 1 and h.seq or nil)
end

-- Seals the open batch. `msgs` (the open list) and `f` (its 'oid', 'of', 'ol', and optionally 'w') when
-- the caller read them.
local function seal_open(c, s, reason, deadline, msgs, f)
  msgs = msgs or redis.call('LRANGE', c.o, 0, -1)
  f = f or redis.call('HMGET', c.h, 'oid', 'of', 'ol')
  redis.call('DEL', c.o)
  redis.call('HDEL', c.h, 'oid', 'of', 'ol', 'dl', 'hu', 'fp', 'hr')
  redis.call('ZREM', SH.due, c.key)
  local h = { id = f[1], size = #msgs, firstAt = tonumber(f[2]), lastAt = tonumber(f[3]), reason = reason }
  local warned = nil
  if f[4] ~= nil then warned = f[4] == '1' end
  return seal_batch(c, s, h, '[' .. table.concat(msgs, ',') .. ']', deadline, warned)
end

-- The open batch's deadline: the window after its last message (hold.holdMs while a content rule
-- holds it, 'hr' set by append.lua), never before its hold ('hu', see hold.lua), capped by maxWait.
local function window_deadline(first, last, hold, s, held)
  local window = s.windowMs
  if held and s.holdMs > window then window = s.holdMs end
  return math.min(math.max(last + window, hold), first + s.maxWaitMs)
end

-- The open batch's deadline under settings `s`, written where the flushers look.
local function arm(c, s)
  local f = redis.call('HMGET', c.h, 'of', 'ol', 'hu', 'hr')
  local deadline = window_deadline(tonumber(f[1]), tonumber(f[2]), tonumber(f[3] or '0'), s, f[4] ~= false)
  redis.call('HSET', c.h, 'dl', fmt(deadline))
  redis.call('ZADD', SH.due, fmt(deadline), c.key)
  return deadline
end

-- Reports that the open batch's deadline moved later than `before` for `reason`.
local function report_held(c, reason, before, deadline)
  if deadline <= before then return end
  emit({ t = 'batch.held', k = c.key, batchId = redis.call('HGET', c.h, 'oid'), reason = reason, deadline = deadline })
end

-- Keeps an armed open batch open until at least now + hold_ms (see hold.lua); nil when none is armed.
local function hold_open(c, hold_ms, reason, s)
  local dl = redis.call('HGET', c.h, 'dl')
  if redis.call('LLEN', c.o) == 0 or not dl then return nil end
  local until_ms = now() + hold_ms
  local held = tonumber(redis.call('HGET', c.h, 'hu') or '0')
  if until_ms > held then redis.call('HSET', c.h, 'hu', fmt(until_ms)) end
  local deadline = arm(c, s)
  if reason ~= '' then report_held(c, reason, tonumber(dl), deadline) end
  return deadline
end

-- New settings apply at once: the warning is re-checked and an armed open window re-timed. Answers the
-- window's new deadline, or nil.
local function apply_settings(c, s)
  check_warn(c, s)
  if redis.call('LLEN', c.o) > 0 and redis.call('HGET', c.h, 'dl') then return arm(c, s) end
  return nil
end

local function set_paused(c)
  if redis.call('HGET', c.h, 'p') == '1' then return end
  redis.call('HSET', c.h, 'p', '1')
  emit({ t = 'channel.paused', k = c.key, cancelled = false })
end

-- ── the in-flight batch ────────────────────────────────────────────────────

local function clear_flight(c)
  redis.call('DEL', c.f)
  redis.call('HDEL', c.h, 'fid', 'fst', 'fseq', 'ftok', 'fgen', 'enq')
  redis.call('ZREM', SH.inflight, c.key)
end

-- Ends the flight of `batch_id` with an outcome (a counter name); false when it is not the one in flight.
-- `flags`: the channel's 'fid', 'p' and 'ov' when the caller read them (ack reads them with the fence).
local function finish(c, batch_id, outcome, flags)
  local f = flags or redis.call('HMGET', c.h, 'fid', 'p', 'ov')
  if f[1] ~= batch_id then return false end
  clear_flight(c)
  redis.call('HINCRBY', c.h, outcome, 1)
  -- As sync_ready and evict_if_idle, from what is known: nothing is in flight now, 'p' and 'ov' are as read.
  if f[2] then
    redis.call('ZREM', SH.ready, c.key)
    return true, nil
  end
  local hs = head_seq(c)
  if hs then
    redis.call('ZADD', SH.ready, fmt(hs), c.key)
    return true, hs
  end
  redis.call('ZREM', SH.ready, c.key)
  if not f[3] and redis.call('LLEN', c.o) == 0 then evict(c, true) end
  return true, nil
end

-- The in-flight batch goes back to the front of its queue, unfinished.
local function release(c, batch_id, s)
  if redis.call('HGET', c.h, 'fid') ~= batch_id then return false end
  local e = redis.call('GET', c.f)
  clear_flight(c)
  redis.call('LPUSH', c.q, e)
  check_warn(c, s)
  return true, sync_ready(c)
end

-- True while (gen, seq, token) is the channel's current delivery of `batch_id`; with the channel's
-- 'fid', 'p' and 'ov' (finish's `flags`).
local function fenced(c, batch_id, gen, seq, token)
  local f = redis.call('HMGET', c.h, 'fid', 'p', 'ov', 'fgen', 'fseq', 'ftok')
  return f[1] == batch_id and f[4] == gen and f[5] == seq and f[6] == token, f
end

local function finish_reply(ok, nxt)
  if not ok then return reply({ cur = false }) end
  return reply({ cur = true, next = nxt and fmt(nxt) or nil })
end

-- ── reading ────────────────────────────────────────────────────────────────

local COUNTERS = { 'received', 'batches', 'processed', 'cancelled', 'failed', 'dropped', 'cleared' }

-- A channel's state for stats/list, or nil when unknown.
local function channel_stats(c)
  local f = redis.call('HMGET', c.h, 'p', 'ov', 'dl', 'fid', 'fst', unpack(COUNTERS))
  if redis.call('EXISTS', c.h) == 0 then return nil end
  local counters = {}
  for i, name in ipairs(COUNTERS) do counters[name] = tonumber(f[5 + i] or '0') end
  local st = {
    k = c.key, active = redis.call('SISMEMBER', SH.chans, c.key) == 1, paused = f[1] == '1', ov = f[2] or nil,
    dl = f[3] and tonumber(f[3]) or nil, pending = redis.call('LLEN', c.o), qb = redis.call('LLEN', c.q),
    qm = queued_messages(c), counters = counters,
  }
  if f[4] then
    local e = redis.call('GET', c.f)
    st.fid = f[4]
    st.fst = tonumber(f[5])
    st.fsize = e and (parse(e)).size or 0
  end
  return st
end
