-- SET OVERRIDE: merges ARGV[9] (JSON) into the channel's stored override, which every gateway reads;
-- an armed open window is re-timed at once (a shorter window flushes sooner).
local c = chan(ARGV[7])
activate(c)
local merged = {}
local old = redis.call('HGET', c.h, 'ov')
if old then merged = cjson.decode(old) end
for k, v in pairs(cjson.decode(ARGV[9])) do merged[k] = v end
local ov = cjson.encode(merged)
redis.call('HSET', c.h, 'ov', ov)
return reply({ ok = true, ov = ov, deadline = apply_settings(c, settings(BASE_SETTINGS, ov)) })
