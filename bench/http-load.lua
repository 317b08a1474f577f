-- wrk script of `npm run bench:http`: POST /events with a distinct payload per request
-- (3 actions each) spread over N sessions (wrk ... -- N; 1,000 by default).
local counter = 0
local sessions = 1000
init = function(args)
  if args[1] ~= nil then sessions = tonumber(args[1]) end
end
request = function()
  counter = counter + 1
  local sid = "load-" .. (counter % sessions)
  local t = os.time()
  local actions = {}
  for k = 0, 2 do
    local i = counter * 3 + k
    actions[#actions + 1] = '{"index":' .. i .. ',"type":"click","title":"Button","description":"Clicked button ' .. i ..
      '","canonical_url":"https://app.example.com/p","raw_url":"https://app.example.com/p?x=1","timestamp_start":' .. t .. '}'
  end
  local body = '{"type":"actions","product_id":"load","session_id":"' .. sid .. '","actions":[' .. table.concat(actions, ",") .. ']}'
  return wrk.format("POST", "/events", { ["Content-Type"] = "application/json" }, body)
end
