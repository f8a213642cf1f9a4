-- GENERATION (standalone): KEYS[1] is a hash { runid, gen }. A Redis whose run_id (ARGV[1]) differs from
-- the recorded one restarted or failed over and may have lost state: bump the generation, once, however
-- many processes notice it together.
if redis.call('HGET', KEYS[1], 'runid') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'runid', ARGV[1])
  return redis.call('HINCRBY', KEYS[1], 'gen', 1)
end
return tonumber(redis.call('HGET', KEYS[1], 'gen'))
