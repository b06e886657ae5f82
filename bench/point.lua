-- point.lua - `user(id:)` with an id drawn at random from the tenant's users.
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
local common = require("common")
local ids = dofile(os.getenv("BENCH_IDS"))

setup = common.setup
init = common.init

function request()
  local id = ids[math.random(#ids)]
  return wrk.format(nil, nil, nil,
    '{"query":"query($id: ID!) { user(id: $id) { id email firstName lastName active } }","variables":{"id":"' .. id .. '"}}')
end

response = common.response
done = common.done
