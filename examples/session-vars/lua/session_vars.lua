-- session_vars: the Lua port of ../module.go, with the same behaviour. A before-authenticate-device hook puts
-- the player's region and tier into the session variables, a before-refresh hook keeps them for the whole
-- session, and a before-get-account hook refuses players whose region is blocked.
local nk = require("nakama")

-- REGION_HEADER names the request header the region comes from. In production it would be set by your load
-- balancer or CDN (from the client's address), not by the game client.
local REGION_HEADER = "X-Region"
local DEFAULT_REGION = "global"
-- BLOCKED_REGIONS_ENV is the runtime.env key listing the regions, comma-separated, whose players may not read
-- their account: --runtime.env blocked_regions=north-pole,south-pole.
local BLOCKED_REGIONS_ENV = "blocked_regions"

local function trim(s)
  return (string.gsub(string.gsub(s, "^%s+", ""), "%s+$", ""))
end

-- header returns the first value of the named request header, whatever the case of its key, or nil.
local function header(headers, name)
  if type(headers) ~= "table" then
    return nil
  end
  local want = string.lower(name)
  for key, values in pairs(headers) do
    if string.lower(key) == want then
      if type(values) == "table" then
        return values[1]
      end
      return values
    end
  end
  return nil
end

-- region returns the request's region header, lower-cased, when it is a plausible region name, and the
-- default region otherwise.
local function region(context)
  local value = header(context.headers, REGION_HEADER)
  if value == nil then
    return DEFAULT_REGION
  end
  local r = string.lower(trim(value))
  if r == "" or #r > 32 or string.find(r, "[^a-z0-9%-]") then
    return DEFAULT_REGION
  end
  return r
end

-- add_session_vars adds "region" and "tier" to the session variables of every device login. The variables
-- the client sent are kept, but the server's values win: a client cannot choose its own region or tier.
local function add_session_vars(context, payload)
  if payload.account == nil then
    payload.account = {}
  end
  if payload.account.vars == nil then
    payload.account.vars = {}
  end
  payload.account.vars["region"] = region(context)
  payload.account.vars["tier"] = "free"
  return payload
end

-- keep_login_vars drops the variables a client sends with a refresh. A refresh with variables replaces the
-- session's, so without this hook a player could refresh their way out of a blocked region; with it the
-- session keeps the variables decided at login.
local function keep_login_vars(context, payload)
  payload.vars = nil
  return payload
end

-- check_region refuses GET /v2/account (403) to a session whose region is blocked, and logs the caller's
-- session variables otherwise.
local function check_region(context, payload)
  local vars = context.vars or {}
  local env = context.env or {}
  local r = vars["region"] or ""
  if r ~= "" then
    for blocked in string.gmatch(env[BLOCKED_REGIONS_ENV] or "", "[^,]+") do
      if trim(blocked) == r then
        error({ "Account access is not available in your region.", 7 })
      end
    end
  end
  nk.logger_info(string.format("get account of %s with session vars %s", tostring(context.user_id), nk.json_encode(vars)))
  return payload
end

nk.register_req_before(add_session_vars, "AuthenticateDevice")
nk.register_req_before(keep_login_vars, "SessionRefresh")
nk.register_req_before(check_region, "GetAccount")
