-- FINISH: ends the flight of batch ARGV[9] with outcome ARGV[10] (processed|failed|cancelled). Unfenced
-- (an operator's cancel): clearing the in-flight marker also voids the fence of the worker holding it.
return finish_reply(finish(chan(ARGV[7]), ARGV[9], ARGV[10]))
