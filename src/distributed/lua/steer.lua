-- STEER: the in-flight batch ARGV[9] takes every batch waiting behind it (steer mode). Their messages join
-- the in-flight entry (a stalled or released re-run carries them; they never run as a batch of their own)
-- and are the reply's second element, one JSON array in queue order. With a fence (gen ARGV[10], seq
-- ARGV[11], token ARGV[12]; '' for none) only that delivery may take: a stale worker takes nothing.
local c = chan(ARGV[7])
if ARGV[10] ~= '' then
  if not fenced(c, ARGV[9], ARGV[10], ARGV[11], ARGV[12]) then return reply({ cur = false }) end
elseif redis.call('HGET', c.h, 'fid') ~= ARGV[9] then
  return reply({ cur = false })
end
local s = channel_settings(c, BASE_SETTINGS)
if s.mode ~= 'steer' then return reply({ cur = true }) end
local waiting = redis.call('LRANGE', c.q, 0, -1)
if #waiting == 0 then return reply({ cur = true }) end
local fh, fbody = parse(redis.call('GET', c.f))
local taken, ids = {}, {}
for _, e in ipairs(waiting) do
  local h, body = parse(e)
  taken[#taken + 1] = body
  fh.size = fh.size + h.size
  if h.lastAt > fh.lastAt then fh.lastAt = h.lastAt end
  for _, m in ipairs(cjson.decode(body)) do ids[#ids + 1] = m.id end
end
local body = join(taken)
redis.call('SET', c.f, entry(fh, join({ fbody, body })))
redis.call('DEL', c.q)
check_warn(c, s, 0)
emit({ t = 'batch.steered', k = c.key, batchId = ARGV[9], messageIds = ids })
return reply({ cur = true }, { body })
