-- many.lua - requests spread at random over BENCH_TENANTS tenants (m0 .. mN-1, made by
-- bench/run for this workload), each a small page of that tenant's users, chosen by the
-- X-Tenant-ID header (the server runs with --trust-tenant-header): with the tenants far
-- outnumbering the connection cap, most requests need a connection another tenant held.
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
local common = require("common")
local ntenants = tonumber(os.getenv("BENCH_TENANTS") or "1000")
local body = '{"query":"{ users(first: 5) { edges { node { email } } } }"}'

setup = common.setup
init = common.init

function request()
  wrk.headers["X-Tenant-ID"] = "m" .. math.random(0, ntenants - 1)
  return wrk.format(nil, nil, nil, body)
end

response = common.response
done = common.done
