-- Mixed API load for wrk: 70 % GET one SIM, 15 % list page, 5 % prefix search,
-- 10 % PATCH a SIM's label (a write: SIM update, event and audit row in one transaction).
-- Env: API_KEY (bearer token), ICCID_FILE (one ICCID per line), and optionally PACE_MS: the
-- mean pause of each connection between its requests (exponentially distributed, so arrivals
-- are Poisson-like), which holds the offered load at about connections × 1000 / PACE_MS
-- requests/s instead of as fast as the server answers.
local iccids = {}
local key = os.getenv("API_KEY")
for line in io.lines(os.getenv("ICCID_FILE")) do
  iccids[#iccids + 1] = line
end
local n = 0
local pace_ms = tonumber(os.getenv("PACE_MS") or "")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed((seed or 1) + os.time())
end

function request()
  n = n + 1
  local iccid = iccids[math.random(#iccids)]
  local headers = { ["Authorization"] = "Bearer " .. key }
  local r = math.random(100)
  if r <= 70 then
    return wrk.format("GET", "/api/v1/sims/" .. iccid, headers)
  elseif r <= 85 then
    return wrk.format("GET", "/api/v1/sims?status=ACTIVE&limit=20", headers)
  elseif r <= 90 then
    return wrk.format("GET", "/api/v1/sims?q=" .. string.sub(iccid, 1, 16) .. "&limit=20", headers)
  else
    headers["Content-Type"] = "application/json"
    return wrk.format("PATCH", "/api/v1/sims/" .. iccid, headers, '{"label":"bench ' .. n .. '"}')
  end
end

if pace_ms then
  function delay()
    return math.floor(-math.log(1 - math.random()) * pace_ms)
  end
end
