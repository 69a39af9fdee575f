-- Row 6: each request is one complete sign-in callback. BENCH_CALLBACKS names
-- a file of "path<TAB>cookie" lines prepared just before the run (a login
-- started at the sidecar, a code issued by the mock's hosted login); each
-- wrk thread takes every n-th line and uses each exactly once. Only a 302
-- (session created) counts as a sign-in; running out of lines is reported.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   threads[#threads + 1] = thread
end

function init(args)
   lines = {}
   local nthreads = tonumber(os.getenv("BENCH_THREADS"))
   local i = 0
   for line in io.lines(os.getenv("BENCH_CALLBACKS")) do
      if i % nthreads == id then
         local path, cookie = line:match("^([^\t]+)\t(.+)$")
         lines[#lines + 1] = { path, cookie }
      end
      i = i + 1
   end
   next_line = 1
   signed_in = 0
   exhausted = 0
   headers = {}
end

function request()
   local l = lines[next_line]
   if next_line < #lines then
      next_line = next_line + 1
   else
      exhausted = 1
   end
   headers["Cookie"] = l[2]
   return wrk.format("GET", l[1], headers)
end

function response(status, hdrs, body)
   if status == 302 then
      signed_in = signed_in + 1
   end
end

function done(summary, latency, requests)
   local ok, out = 0, 0
   for _, t in ipairs(threads) do
      ok = ok + t:get("signed_in")
      out = out + t:get("exhausted")
   end
   report(summary, latency, string.format(",\"signed_in\":%d,\"exhausted\":%d", ok, out))
end
