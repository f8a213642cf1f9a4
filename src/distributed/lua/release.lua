-- RELEASE: the in-flight batch ARGV[9] goes back to the front of its queue unfinished (shutdown abort).
local c = chan(ARGV[7])
return finish_reply(release(c, ARGV[9], channel_settings(c, BASE_SETTINGS)))
