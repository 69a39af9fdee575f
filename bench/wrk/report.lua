-- Prints one machine-readable line after a run: requests, duration, errors
-- and latency percentiles (microseconds). Loaded by every row; the other
-- scripts do `dofile` it and add their own request/response functions.
function report(summary, latency, extra)
   local e = summary.errors
   io.write(string.format(
      "BENCHJSON {\"requests\":%d,\"duration_us\":%d,\"connect_errors\":%d," ..
      "\"read_errors\":%d,\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d," ..
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f%s}\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.max, extra or ""))
end

function done(summary, latency, requests)
   report(summary, latency)
end
