-- STATS: one channel's state (read only); meta.st is absent for an unknown channel.
return reply({ st = channel_stats(chan(ARGV[7])) })
