-- rename_token: the Lua port of ../module.go, with the same behaviour. The update_username RPC renames the
-- caller and answers with a fresh session token whose usn is the new name, so the client need not log in
-- again.
local nk = require("nakama")

-- MAX_USERNAME_BYTES is the server's username limit, checked here so that a bad name is a 400 with a
-- readable message rather than an error from account_update_id.
local MAX_USERNAME_BYTES = 128

local BAD_PAYLOAD = 'Payload must be a JSON object: {"username": "..."}.'

-- requested_username reads {"username": "..."} from the payload; a missing or null username is empty.
local function requested_username(payload)
  local ok, req = pcall(nk.json_decode, payload)
  if not ok then
    error({ BAD_PAYLOAD, 3 })
  end
  if req == nil then
    return ""
  end
  if type(req) ~= "table" or #req > 0 or (req.username ~= nil and type(req.username) ~= "string") then
    error({ BAD_PAYLOAD, 3 })
  end
  return req.username or ""
end

-- check_username applies the server's username rules: 1-128 bytes, no spaces or control characters.
local function check_username(u)
  if u == "" or #u > MAX_USERNAME_BYTES then
    error({ "Username invalid, must be 1-128 bytes.", 3 })
  end
  for i = 1, #u do
    local c = string.byte(u, i)
    if c <= 32 or c == 127 then
      error({ "Username invalid, no spaces or control characters allowed.", 3 })
    end
  end
end

-- update_username renames the calling user and returns a fresh session token that carries the new name and
-- the caller's session variables: {"token": "...", "exp": <Unix seconds>}. The caller's current token stays
-- valid (with the old name) until it expires; a refresh of the caller's session also picks up the new name.
local function update_username(context, payload)
  local user_id = context.user_id
  if user_id == nil or user_id == "" then
    -- Called with the HTTP key: there is no user to rename.
    error({ "update_username needs a session token.", 16 })
  end
  local username = requested_username(payload)
  check_username(username)

  local ok, err = pcall(nk.account_update_id, user_id, nil, username)
  if not ok then
    local reason = tostring(err)
    if string.find(reason, "username is already in use", 1, true) then
      error({ "Username is already in use.", 6 })
    end
    if string.find(reason, "user not found", 1, true) then
      error({ "User account not found.", 5 })
    end
    error(err, 0) -- logged by the server, answered as a generic 500
  end

  -- No expiry: the token gets the configured lifetime.
  local token, exp = nk.authenticate_token_generate(user_id, username, nil, context.vars)
  nk.logger_info(string.format("renamed %s to %q", user_id, username))
  return nk.json_encode({ token = token, exp = exp })
end

nk.register_rpc(update_username, "update_username")
