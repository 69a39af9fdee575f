-- Row 7: each request carries a session cookie picked at random from a file
-- of sealed cookie values (one per line; env BENCH_COOKIES, cookie name in
-- BENCH_COOKIE_NAME), so requests spread over every seeded session.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

function init(args)
   cookies = {}
   local name = os.getenv("BENCH_COOKIE_NAME")
   for line in io.lines(os.getenv("BENCH_COOKIES")) do
      cookies[#cookies + 1] = name .. "=" .. line
   end
   count = #cookies
   math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
   headers = {}
end

function request()
   headers["Cookie"] = cookies[math.random(count)]
   return wrk.format("GET", "/", headers)
end
