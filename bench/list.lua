-- list.lua - 50 users and 50 products in one request (two queries on two connections).
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
local common = require("common")

setup = common.setup
function init(args)
  common.init_thread()
  wrk.body = '{"query":"{ users(first: 50) { edges { node { id email firstName lastName } } } ' ..
             'products(first: 50) { edges { node { id name price stockQuantity } } } }"}'
end

response = common.response
done = common.done
