-- anon.lua - anonymous clients: the full introspection query and failed logins in turn,
-- without a token (their answers, mostly 429 once the address's budget is spent, are not
-- counted against the run).
local introspection = dofile(os.getenv("BENCH_INTROSPECTION")) -- the JSON body, made by bench/run
local n = 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format(nil, nil, nil,
      '{"query":"mutation { login(tenant: \\"acme\\", email: \\"admin@acme.example\\", password: \\"wrong-password\\") { token } }"}')
  end
  return wrk.format(nil, nil, nil, introspection)
end
