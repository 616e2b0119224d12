-- photon_auth: the Lua port of ../module.go, with the same behaviour. Photon calls the photon_auth RPC with
-- the player's Latchkey session token, and the answer tells Photon who the player is.
local nk = require("nakama")

-- Photon's result codes.
local RESULT_OK = 1 -- authenticated
local RESULT_FAILED = 2 -- wrong credentials
local RESULT_MISSING_OR_WRONG = 3 -- invalid or missing parameters

-- Messages Photon passes to the client (OnCustomAuthenticationFailed).
local MSG_MISSING = "Parameter auth_token is missing."
local MSG_EXPIRED = "Session token expired; refresh the session and connect again."
local MSG_ENDED = "Session has ended; log in again."
local MSG_INVALID = "Invalid session token."

-- auth_token finds the session token in the query, else in a JSON object body; nil when there is none.
local function auth_token(context, payload)
  local query = context.query_params or {}
  local values = query["auth_token"]
  if type(values) == "table" and values[1] ~= nil and values[1] ~= "" then
    return values[1]
  end
  if payload == nil or string.find(payload, "^%s*$") then
    return nil
  end
  local ok, body = pcall(nk.json_decode, payload)
  if not ok or type(body) ~= "table" or type(body.auth_token) ~= "string" or body.auth_token == "" then
    return nil
  end
  return body.auth_token
end

-- photon_auth answers Photon's custom-authentication call. The token comes from the auth_token query
-- parameter (Photon's default GET) or, when Photon posts a dictionary (AuthPostData), from the auth_token
-- field of the JSON body. The caller is authenticated by the server before this runs (the http_key
-- parameter, set as a dashboard value in Photon), so the module never sees a key.
--
-- Every decision is an HTTP 200 with a result code: Photon treats HTTP errors as the provider being down and
-- backs off, which would lock out (or let in) every player for a while. UserId and Nickname are only sent on
-- success, Message only on failure.
local function photon_auth(context, payload)
  local token = auth_token(context, payload)
  if token == nil then
    return nk.json_encode({ ResultCode = RESULT_MISSING_OR_WRONG, Message = MSG_MISSING })
  end
  local ok, session = pcall(nk.session_validate, token)
  if ok then
    return nk.json_encode({ ResultCode = RESULT_OK, UserId = session.user_id, Nickname = session.username })
  end
  local reason = tostring(session)
  if string.find(reason, "token expired", 1, true) then
    return nk.json_encode({ ResultCode = RESULT_FAILED, Message = MSG_EXPIRED })
  end
  if string.find(reason, "session revoked", 1, true) then
    return nk.json_encode({ ResultCode = RESULT_FAILED, Message = MSG_ENDED })
  end
  -- Malformed, or a bad signature.
  nk.logger_debug("photon_auth refused a token: " .. reason)
  return nk.json_encode({ ResultCode = RESULT_FAILED, Message = MSG_INVALID })
end

nk.register_rpc(photon_auth, "photon_auth")
