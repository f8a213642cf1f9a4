-- TAKE: the queue head goes in flight (unless paused or busy); it gets the channel's next fence seq,
-- the taker's generation and no token yet (claim issues one). The entry is the reply's second element.
local c = chan(ARGV[7])
local f = redis.call('HMGET', c.h, 'p', 'fid', 'ov', 'w')
if f[1] or f[2] then return reply({}) end
local e = redis.call('LPOP', c.q)
if not e then return reply({}) end
local ov = f[3] or nil
local s = settings(BASE_SETTINGS, ov)
local h = parse(e)
-- The shard's seal-order counter (Redis time based, never repeating): a per-channel counter would restart
-- when an idle channel's hash is evicted, and a processor comparing fences would drop later batches.
local fseq = next_seq()
redis.call('HSET', c.h, 'fid', h.id, 'fst', fmt(now()), 'fseq', fmt(fseq), 'fgen', GEN, 'ftok', '0', 'enq', '0')
redis.call('SET', c.f, e)
redis.call('ZADD', SH.inflight, fmt(now()), c.key)
check_warn(c, s, nil, f[4] == '1')
-- In flight now, so not ready (sync_ready's answer, without reading back what this step wrote).
redis.call('ZREM', SH.ready, c.key)
return reply({ ov = ov, startedAt = now() }, { e })
