local nk = require("nakama")

local function set_session_vars(context, payload)
        nk.logger_info("User session contains key-value pairs set by the client: " .. nk.json_encode(payload.account.vars))

        payload.account.vars["key_added_in_lua"] = "value_added_in_lua"
        return payload
end

nk.register_req_before(set_session_vars, "AuthenticateEmail")

local nk = require("nakama")

local function access_session_vars(context, payload)
        nk.logger_info("User session contains key-value pairs set by both the client and the before authentication hook: " .. nk.json_encode(context.vars))

        return payload
end

nk.register_req_before(access_session_vars, "GetAccount")
