-- common.lua - shared by the wrk scripts: authentication (token or X-Tenant-ID), and the
-- counting of non-200 answers and answers carrying GraphQL errors, which wrk itself
-- does not do (a benchmark of errors is worthless).
local common = {}
local threads = {}

function common.setup(thread)
  table.insert(threads, thread)
end

function common.init_thread()
  bad_status, graphql_errors = 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token, tenant = os.getenv("BENCH_TOKEN"), os.getenv("BENCH_TENANT")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  else
    wrk.headers["X-Tenant-ID"] = tenant
  end
end

-- wrk's init for every script: headers, counters, and a random seed of this thread's own
function common.init(args)
  common.init_thread()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function common.response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function common.done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad_status")
    errs = errs + t:get("graphql_errors")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f non200=%d errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    bad, errs, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

return common
