-- costly.lua - the noisy tenant: ten aliases of a full page of products (about 250 KB of
-- answer; cost about 10,000 of the default 100,000), as often as it is answered. Its
-- answers are not counted against the run (429s from a quota are the point).
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
local common = require("common")

function init(args)
  common.init_thread()
  local page = "products(first: 100) { edges { node { id name description price stockQuantity active createdAt updatedAt } } }"
  local q = "{"
  for i = 0, 9 do
    q = q .. " p" .. i .. ": " .. page
  end
  wrk.body = '{"query":"' .. q .. ' }"}'
end
