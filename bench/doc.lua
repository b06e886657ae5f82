-- doc.lua - the kind of document a generated client sends: named operation, variables
-- with defaults, fragments, aliases and directives, about 2 KB of text, resolved with a
-- single user lookup. Its cost is mostly lexing, parsing and validating the text, which
-- the parsed-document cache skips (compare with --server-args "--doc-cache-entries 0").
package.path = package.path .. ";" .. (os.getenv("BENCH_DIR") or "bench") .. "/?.lua"
local common = require("common")
local ids = dofile(os.getenv("BENCH_IDS"))

local query = [[
query UserProfilePage($id: ID!, $withNames: Boolean = true, $withStatus: Boolean = true, $withAudit: Boolean = false) {
  profile: user(id: $id) { ...UserCard ...UserStatus @include(if: $withStatus) ...UserAudit @include(if: $withAudit) }
  again: user(id: $id) { ...UserCard }
  node(id: $id) { __typename id ... on User { ...UserCard } ... on Product { ...ProductCard } }
  sidebar: user(id: $id) {
    primary: email
    names: firstName @include(if: $withNames)
    surname: lastName @include(if: $withNames)
    ... on User @skip(if: false) { isActive: active }
  }
}
fragment UserCard on User { id email ...UserNames __typename }
fragment UserNames on User { firstName lastName displayFirst: firstName displayLast: lastName }
fragment UserStatus on User { active updatedAt createdAt }
fragment UserAudit on User { createdAt updatedAt }
fragment ProductCard on Product { id name description price stockQuantity active createdAt updatedAt }
]]
local encoded = query:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", "\\n")

setup = common.setup
init = common.init

function request()
  local id = ids[math.random(#ids)]
  return wrk.format(nil, nil, nil, '{"query":"' .. encoded .. '","variables":{"id":"' .. id .. '"}}')
end

response = common.response
done = common.done
