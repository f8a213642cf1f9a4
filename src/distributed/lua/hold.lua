-- HOLD: the open batch stays open until at least now + ARGV[9] ms, capped by its firstAt + maxWaitMs.
-- The hold is kept in 'hu' so later appends slide the window but never below it; it goes with the batch
-- (seal, clear, drain). Never opens a batch, never moves a deadline earlier, never arms a disarmed one.
local c = chan(ARGV[7])
if redis.call('LLEN', c.o) == 0 or not redis.call('HGET', c.h, 'dl') then return reply({ ok = false }) end
local until_ms = now() + tonumber(ARGV[9])
local held = tonumber(redis.call('HGET', c.h, 'hu') or '0')
if until_ms > held then redis.call('HSET', c.h, 'hu', fmt(until_ms)) end
return reply({ ok = true, deadline = arm(c, channel_settings(c, BASE_SETTINGS)) })
