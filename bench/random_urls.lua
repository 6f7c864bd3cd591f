-- wrk script for `make bench` (bench/traffic.py): each request asks for a path picked at random
-- from a file of paths, one per line, given after `--`:
--
--     wrk -t1 -c4 -d20s -s bench/random_urls.lua http://127.0.0.1:8000 -- var/bench/urls.txt
--
-- Extra headers (a shopper's Cookie) come from wrk's own -H option. At the end, done() prints one
-- line, "WRK_RESULT {json}", that bench/traffic.py parses: requests, duration, latency
-- percentiles (microseconds) and wrk's error counts ("status" is every answer of 400 or above).
-- No response() callback: defining one makes wrk hand every response to Lua, which slows wrk
-- itself down; redirects and errors are checked by the bench before the load instead.

local paths = {}
local thread_number = 0

function setup(thread)
   thread_number = thread_number + 1
   thread:set("number", thread_number)
end

function init(args)
   local file = args[1]
   if file == nil then
      error("random_urls.lua: give the file of paths after --")
   end
   for line in io.lines(file) do
      if line ~= "" then
         paths[#paths + 1] = line
      end
   end
   if #paths == 0 then
      error("random_urls.lua: no paths in " .. file)
   end
   -- Each thread has its own Lua state: a seed of its own, or every thread asks the same sequence.
   math.randomseed(os.time() * 100 + (number or 0))
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "max_us": %.0f, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
