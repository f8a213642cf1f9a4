-- TYPING: user ARGV[9] is typing. When they wrote a message of the open batch, it is held for the
-- channel's typingHoldMs (as hold.lua, reason 'typing'); anyone else's typing, or typingHoldMs 0, does
-- nothing. The author check and the hold are one step, so no append or seal comes between them.
local c = chan(ARGV[7])
local s = channel_settings(c, BASE_SETTINGS)
if s.typingHoldMs <= 0 then return reply({ ok = false }) end
local author = false
for _, m in ipairs(redis.call('LRANGE', c.o, 0, -1)) do
  if cjson.decode(m).userId == ARGV[9] then
    author = true
    break
  end
end
if not author then return reply({ ok = false }) end
local deadline = hold_open(c, s.typingHoldMs, 'typing', s)
if deadline == nil then return reply({ ok = false }) end
return reply({ ok = true, deadline = deadline })
