-- HOLD: the open batch stays open until at least now + ARGV[9] ms, capped by its firstAt + maxWaitMs.
-- The hold is kept in 'hu' so later appends slide the window but never below it; it goes with the batch
-- (seal, clear, drain). Never opens a batch, never moves a deadline earlier, never arms a disarmed one.
-- ARGV[10]: the hold's reason for `batch.held` ('' reports nothing).
local c = chan(ARGV[7])
local deadline = hold_open(c, tonumber(ARGV[9]), ARGV[10] or '', channel_settings(c, BASE_SETTINGS))
if deadline == nil then return reply({ ok = false }) end
return reply({ ok = true, deadline = deadline })
