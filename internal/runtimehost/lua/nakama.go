package lua

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"time"

	"github.com/google/uuid"
	glua "github.com/yuin/gopher-lua"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// nkFunc is a server function of the "nakama" module, run in state s.
type nkFunc = func(s *state, L *glua.LState) int

// NM is short for the NakamaModule in the tables below, whose method expressions are the Go functions.
type NM = runtime.NakamaModule

// nkFuncs are the server functions, by Nakama's Lua names, with Nakama's argument orders. Each calls the
// Go NakamaModule with the call's context; a Go error fails the Lua call with the error's text.
var nkFuncs = map[string]nkFunc{
	"authenticate_apple":                 authenticate(NM.AuthenticateApple),
	"authenticate_custom":                authenticate(NM.AuthenticateCustom),
	"authenticate_device":                authenticate(NM.AuthenticateDevice),
	"authenticate_google":                authenticate(NM.AuthenticateGoogle),
	"authenticate_facebook_instant_game": authenticate(NM.AuthenticateFacebookInstantGame),
	"authenticate_email":                 authenticateEmail,
	"authenticate_facebook":              authenticateFacebook,
	"authenticate_steam":                 authenticateSteam,
	"authenticate_game_center":           authenticateGameCenter,
	"authenticate_gamecenter":            authenticateGameCenter, // the name Nakama's older documentation gives
	"authenticate_token_generate":        authenticateTokenGenerate,

	"link_apple":                   userAnd(NM.LinkApple),
	"link_custom":                  userAnd(NM.LinkCustom),
	"link_device":                  userAnd(NM.LinkDevice),
	"link_google":                  userAnd(NM.LinkGoogle),
	"link_facebook_instant_game":   userAnd(NM.LinkFacebookInstantGame),
	"link_email":                   linkEmail,
	"link_facebook":                linkWithFriends(NM.LinkFacebook),
	"link_steam":                   linkWithFriends(NM.LinkSteam),
	"link_gamecenter":              gameCenter(NM.LinkGameCenter),
	"unlink_apple":                 userAnd(NM.UnlinkApple),
	"unlink_custom":                userAnd(NM.UnlinkCustom),
	"unlink_device":                userAnd(NM.UnlinkDevice),
	"unlink_email":                 userAnd(NM.UnlinkEmail),
	"unlink_facebook":              userAnd(NM.UnlinkFacebook),
	"unlink_facebook_instant_game": userAnd(NM.UnlinkFacebookInstantGame),
	"unlink_google":                userAnd(NM.UnlinkGoogle),
	"unlink_steam":                 userAnd(NM.UnlinkSteam),
	"unlink_gamecenter":            gameCenter(NM.UnlinkGameCenter),

	"session_logout":     sessionLogout,
	"session_disconnect": sessionDisconnect,
	"session_validate":   sessionValidate,
	"sessions_list":      sessionsList,
	"session_revoke":     sessionRevoke,
	"sockets_list":       socketsList,
	"ticket_mint":        ticketMint,
	"ticket_redeem":      ticketRedeem,
	"account_get_id":     accountGetID,
	"accounts_get_id":    accountsGetID,
	"account_update_id":  accountUpdateID,
	"account_delete_id":  accountDeleteID,
	"users_get_id":       usersGetID,
	"users_get_username": usersGetUsername,
	"users_ban_id":       userIDs(NM.UsersBanId),
	"users_unban_id":     userIDs(NM.UsersUnbanId),
	"stream_user_list":   streamUserList,

	"uuid_v4":          func(_ *state, L *glua.LState) int { return push(L, glua.LString(uuid.NewString())) },
	"time":             nkTime,
	"json_encode":      jsonEncode,
	"json_decode":      jsonDecode,
	"base64_encode":    encode(base64.StdEncoding),
	"base64_decode":    decode(base64.StdEncoding),
	"base64url_encode": encode(base64.URLEncoding),
	"base64url_decode": decode(base64.URLEncoding),
	"base16_encode": func(_ *state, L *glua.LState) int {
		return push(L, glua.LString(hex.EncodeToString([]byte(L.CheckString(1)))))
	},
	"base16_decode":    base16Decode,
	"sha256_hash":      hexHash(sha256.New),
	"md5_hash":         hexHash(md5.New),
	"hmac_sha256_hash": hmacSHA256,
	"logger_debug":     logger(runtime.Logger.Debug),
	"logger_info":      logger(runtime.Logger.Info),
	"logger_warn":      logger(runtime.Logger.Warn),
	"logger_error":     logger(runtime.Logger.Error),
}

// openNakama is the loader of require("nakama"): the registration functions and the server functions.
func (s *state) openNakama(L *glua.LState) int {
	fns := map[string]glua.LGFunction{
		"register_rpc":        s.register(kindRPC),
		"register_req_before": s.register(kindBefore),
		"register_req_after":  s.register(kindAfter),
		"register_rt_before":  s.register(kindRtBefore),
		"register_rt_after":   s.register(kindRtAfter),
	}
	for name, f := range nkFuncs {
		fns[name] = func(L *glua.LState) int { return f(s, L) }
	}
	L.Push(L.SetFuncs(L.CreateTable(0, len(fns)), fns))
	return 1
}

func push(L *glua.LState, vs ...glua.LValue) int {
	for _, v := range vs {
		L.Push(v)
	}
	return len(vs)
}

// done ends a server function that returns nothing.
func (s *state) done(err error) int {
	if err != nil {
		return s.raise(err)
	}
	return 0
}

// authenticated returns what the authenticate functions return: user_id, username, created.
func (s *state) authenticated(userID, username string, created bool, err error) int {
	if err != nil {
		return s.raise(err)
	}
	return push(s.L, glua.LString(userID), glua.LString(username), glua.LBool(created))
}

// authenticate is a function of (id or token, username, create = true).
func authenticate(f func(NM, context.Context, string, string, bool) (string, string, bool, error)) nkFunc {
	return func(s *state, L *glua.LState) int {
		return s.authenticated(f(s.r.nk, s.ctx(), L.CheckString(1), L.OptString(2, ""), L.OptBool(3, true)))
	}
}

// authenticateEmail is (email, password, username, create = true).
func authenticateEmail(s *state, L *glua.LState) int {
	return s.authenticated(s.r.nk.AuthenticateEmail(s.ctx(), L.OptString(1, ""), L.CheckString(2), L.OptString(3, ""), L.OptBool(4, true)))
}

// authenticateFacebook is (token, import = true, username, create = true).
func authenticateFacebook(s *state, L *glua.LState) int {
	return s.authenticated(s.r.nk.AuthenticateFacebook(s.ctx(), L.CheckString(1), L.OptBool(2, true), L.OptString(3, ""), L.OptBool(4, true)))
}

// authenticateSteam is (token, import = true, username, create = true), as Nakama reads it.
func authenticateSteam(s *state, L *glua.LState) int {
	return s.authenticated(s.r.nk.AuthenticateSteam(s.ctx(), L.CheckString(1), L.OptString(3, ""), L.OptBool(4, true)))
}

// authenticateGameCenter is (player_id, bundle_id, timestamp, salt, signature, public_key_url, username,
// create = true).
func authenticateGameCenter(s *state, L *glua.LState) int {
	return s.authenticated(s.r.nk.AuthenticateGameCenter(s.ctx(), L.CheckString(1), L.CheckString(2), L.CheckInt64(3),
		L.CheckString(4), L.CheckString(5), L.CheckString(6), L.OptString(7, ""), L.OptBool(8, true)))
}

// authenticateTokenGenerate is (user_id, username, expires_at, vars) and returns token, expires_at.
func authenticateTokenGenerate(s *state, L *glua.LState) int {
	vars := stringTable(L, 4)
	token, exp, err := s.r.nk.AuthenticateTokenGenerate(L.CheckString(1), L.OptString(2, ""), L.OptInt64(3, 0), vars)
	if err != nil {
		return s.raise(err)
	}
	return push(L, glua.LString(token), glua.LNumber(exp))
}

// userAnd is a link or unlink function of (user_id, credential).
func userAnd(f func(NM, context.Context, string, string) error) nkFunc {
	return func(s *state, L *glua.LState) int {
		return s.done(f(s.r.nk, s.ctx(), L.CheckString(1), L.OptString(2, "")))
	}
}

// linkEmail is (user_id, email, password).
func linkEmail(s *state, L *glua.LState) int {
	return s.done(s.r.nk.LinkEmail(s.ctx(), L.CheckString(1), L.CheckString(2), L.CheckString(3)))
}

// linkWithFriends is link_facebook or link_steam: (user_id, username, token, import = true).
func linkWithFriends(f func(NM, context.Context, string, string, string, bool) error) nkFunc {
	return func(s *state, L *glua.LState) int {
		return s.done(f(s.r.nk, s.ctx(), L.CheckString(1), L.OptString(2, ""), L.CheckString(3), L.OptBool(4, true)))
	}
}

// gameCenter is link_gamecenter or unlink_gamecenter: (user_id, player_id, bundle_id, timestamp, salt,
// signature, public_key_url).
func gameCenter(f func(NM, context.Context, string, string, string, int64, string, string, string) error) nkFunc {
	return func(s *state, L *glua.LState) int {
		return s.done(f(s.r.nk, s.ctx(), L.CheckString(1), L.OptString(2, ""), L.OptString(3, ""), L.OptInt64(4, 0),
			L.OptString(5, ""), L.OptString(6, ""), L.OptString(7, "")))
	}
}

// sessionLogout is (user_id, token, refresh_token).
func sessionLogout(s *state, L *glua.LState) int {
	return s.done(s.r.nk.SessionLogout(L.CheckString(1), L.OptString(2, ""), L.OptString(3, "")))
}

// sessionDisconnect is (session_id, reason), reason a runtime.PresenceReason (0-4).
func sessionDisconnect(s *state, L *glua.LState) int {
	var reasons []runtime.PresenceReason
	if n := L.OptInt64(2, 0); n < 0 || n > 4 {
		L.ArgError(2, "invalid disconnect reason, must be a value 0-4")
	} else if n != 0 {
		reasons = append(reasons, runtime.PresenceReason(n))
	}
	return s.done(s.r.nk.SessionDisconnect(s.ctx(), L.CheckString(1), reasons...))
}

// sessionValidate is Latchkey's: (token) returns the session the token belongs to, {session_id, user_id,
// username, vars, expires_at, issued_at}, or fails with why ("token expired", "session revoked", ...).
func sessionValidate(s *state, L *glua.LState) int {
	v, err := s.r.nk.SessionValidate(s.ctx(), L.CheckString(1))
	if err != nil {
		return s.raise(err)
	}
	return push(L, toLua(L, map[string]any{"session_id": v.SessionID, "user_id": v.UserID, "username": v.Username,
		"vars": v.Vars, "expires_at": v.ExpiresAt, "issued_at": v.IssuedAt}))
}

// ticketMint is Latchkey's: (user_id, session_id, audience, ttl_sec, vars) returns a join ticket for the
// user's live session, {token, id, expires_at}; ttl_sec 0 or nil is tickets.ttl_sec, vars nil the
// session's variables.
func ticketMint(s *state, L *glua.LState) int {
	vars := stringTable(L, 5)
	tk, err := s.r.nk.TicketMint(s.ctx(), L.CheckString(1), L.CheckString(2), L.CheckString(3), L.OptInt(4, 0), vars)
	if err != nil {
		return s.raise(err)
	}
	return push(L, toLua(L, map[string]any{"token": tk.Token, "id": tk.ID, "expires_at": tk.ExpiresAt}))
}

// ticketRedeem is Latchkey's: (token, audience) redeems a join ticket and returns what it says, {user_id,
// username, session_id, audience, id, expires_at, issued_at, vars}, or fails with why ("ticket already
// redeemed", "session revoked", ...).
func ticketRedeem(s *state, L *glua.LState) int {
	c, err := s.r.nk.TicketRedeem(s.ctx(), L.CheckString(1), L.CheckString(2))
	if err != nil {
		return s.raise(err)
	}
	return push(L, toLua(L, map[string]any{"user_id": c.UserID, "username": c.Username, "session_id": c.SessionID,
		"audience": c.Audience, "id": c.ID, "expires_at": c.ExpiresAt, "issued_at": c.IssuedAt, "vars": c.Vars}))
}

// sessionsList is Latchkey's: (user_id) returns the user's live sessions, newest first, each {id,
// create_time, refresh_time, expire_time, user_agent, client_ip}.
func sessionsList(s *state, L *glua.LState) int {
	list, err := s.r.nk.SessionsList(s.ctx(), L.CheckString(1))
	if err != nil {
		return s.raise(err)
	}
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = map[string]any{"id": v.ID, "create_time": v.CreateTime, "refresh_time": v.RefreshTime,
			"expire_time": v.ExpireTime, "user_agent": v.UserAgent, "client_ip": v.ClientIP}
	}
	return push(L, toLua(L, out))
}

// sessionRevoke is Latchkey's: (user_id, session_id) ends one session of the user.
func sessionRevoke(s *state, L *glua.LState) int {
	return s.done(s.r.nk.SessionRevoke(s.ctx(), L.CheckString(1), L.CheckString(2)))
}

// socketsList is Latchkey's: (user_id) returns the user's open realtime sockets, oldest first, each
// {session_id, user_id, token_id, node, create_time}.
func socketsList(s *state, L *glua.LState) int {
	list, err := s.r.nk.SocketsList(s.ctx(), L.CheckString(1))
	if err != nil {
		return s.raise(err)
	}
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = map[string]any{"session_id": v.SessionID, "user_id": v.UserID, "token_id": v.TokenID, "node": v.Node,
			"create_time": v.CreateTime}
	}
	return push(L, toLua(L, out))
}

func accountGetID(s *state, L *glua.LState) int {
	a, err := s.r.nk.AccountGetId(s.ctx(), L.CheckString(1))
	if err != nil {
		return s.raise(err)
	}
	t, err := accountTable(L, a)
	if err != nil {
		return s.raise(err)
	}
	return push(L, t)
}

// accountsGetID is (user_ids) and returns the accounts found, skipping unknown ids as Nakama does.
func accountsGetID(s *state, L *glua.LState) int {
	ids := stringList(L, 1)
	out := L.CreateTable(len(ids), 0)
	for _, id := range ids {
		a, err := s.r.nk.AccountGetId(s.ctx(), id)
		if errors.Is(err, runtime.ErrUserNotFound) {
			continue
		}
		if err != nil {
			return s.raise(err)
		}
		t, err := accountTable(L, a)
		if err != nil {
			return s.raise(err)
		}
		out.Append(t)
	}
	return push(L, out)
}

// accountUpdateID is (user_id, metadata, username, display_name, timezone, location, lang_tag,
// avatar_url); nil leaves a field as it is.
func accountUpdateID(s *state, L *glua.LState) int {
	var metadata map[string]any
	if t := L.OptTable(2, nil); t != nil {
		v, err := fromLua(t, 0)
		if err != nil {
			L.ArgError(2, err.Error())
		}
		if metadata, _ = v.(map[string]any); metadata == nil {
			L.ArgError(2, "expects metadata to be a table of key-value pairs")
		}
	}
	opt := func(n int) string { return L.OptString(n, "") }
	return s.done(s.r.nk.AccountUpdateId(s.ctx(), L.CheckString(1), opt(3), metadata, opt(4), opt(5), opt(6), opt(7), opt(8)))
}

// accountDeleteID is (user_id, recorded = false).
func accountDeleteID(s *state, L *glua.LState) int {
	return s.done(s.r.nk.AccountDeleteId(s.ctx(), L.CheckString(1), L.OptBool(2, false)))
}

// usersGetID is (user_ids, facebook_ids) and returns a list of users.
func usersGetID(s *state, L *glua.LState) int {
	ids, fbIDs := stringList(L, 1), stringList(L, 2)
	if len(ids) == 0 && len(fbIDs) == 0 {
		return push(L, L.NewTable())
	}
	return s.users(s.r.nk.UsersGetId(s.ctx(), ids, fbIDs))
}

func usersGetUsername(s *state, L *glua.LState) int {
	names := stringList(L, 1)
	if len(names) == 0 {
		return push(L, L.NewTable())
	}
	return s.users(s.r.nk.UsersGetUsername(s.ctx(), names))
}

func (s *state) users(users []*api.User, err error) int {
	if err != nil {
		return s.raise(err)
	}
	list := s.L.CreateTable(len(users), 0)
	for i, u := range users {
		t, err := userTable(s.L, u)
		if err != nil {
			return s.raise(err)
		}
		list.RawSetInt(i+1, t)
	}
	return push(s.L, list)
}

// userIDs is users_ban_id or users_unban_id: (user_ids).
func userIDs(f func(NM, context.Context, []string) error) nkFunc {
	return func(s *state, L *glua.LState) int {
		if ids := stringList(L, 1); len(ids) > 0 {
			return s.done(f(s.r.nk, s.ctx(), ids))
		}
		return 0
	}
}

// streamUserList is (stream, include_hidden = true, include_not_hidden = true), the stream a table of mode,
// subject, subcontext and label; it returns the presences.
func streamUserList(s *state, L *glua.LState) int {
	stream := L.CheckTable(1)
	field := func(name string) string { return glua.LVAsString(stream.RawGetString(name)) }
	mode, _ := stream.RawGetString("mode").(glua.LNumber)
	presences, err := s.r.nk.StreamUserList(uint8(mode), field("subject"), field("subcontext"), field("label"), L.OptBool(2, true), L.OptBool(3, true))
	if err != nil {
		return s.raise(err)
	}
	out := make([]any, len(presences))
	for i, p := range presences {
		out[i] = map[string]any{"user_id": p.GetUserId(), "session_id": p.GetSessionId(), "node": p.GetNodeId(),
			"hidden": p.GetHidden(), "persistence": p.GetPersistence(), "username": p.GetUsername(), "status": p.GetStatus()}
	}
	return push(L, toLua(L, out))
}

// nkTime is the time in milliseconds: now, or of a table as os.time takes (with msec).
func nkTime(_ *state, L *glua.LState) int {
	if L.GetTop() == 0 {
		return push(L, glua.LNumber(time.Now().UnixMilli()))
	}
	return push(L, glua.LNumber(tableTime(L.CheckTable(1)).UnixMilli()))
}

func jsonEncode(_ *state, L *glua.LState) int {
	v, err := fromLua(L.Get(1), 0)
	if err != nil {
		L.RaiseError("error encoding to JSON: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		L.RaiseError("error encoding to JSON: %v", err)
	}
	return push(L, glua.LString(b))
}

func jsonDecode(_ *state, L *glua.LState) int {
	var v any
	if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
		L.RaiseError("not a valid JSON string: %v", err)
	}
	return push(L, toLua(L, v))
}

// encode is base64_encode or base64url_encode: (input, padding = true).
func encode(enc *base64.Encoding) nkFunc {
	return func(_ *state, L *glua.LState) int {
		e := enc
		if !L.OptBool(2, true) {
			e = enc.WithPadding(base64.NoPadding)
		}
		return push(L, glua.LString(e.EncodeToString([]byte(L.CheckString(1)))))
	}
}

// decode is base64_decode or base64url_decode: (input, padding = false); without padding the input may
// lack its padding.
func decode(enc *base64.Encoding) nkFunc {
	return func(_ *state, L *glua.LState) int {
		in := L.CheckString(1)
		if !L.OptBool(2, false) && len(in)%4 != 0 {
			in += strings.Repeat("=", 4-len(in)%4)
		}
		out, err := enc.DecodeString(in)
		if err != nil {
			L.RaiseError("not a valid base64 string: %v", err)
		}
		return push(L, glua.LString(out))
	}
}

func base16Decode(_ *state, L *glua.LState) int {
	out, err := hex.DecodeString(L.CheckString(1))
	if err != nil {
		L.RaiseError("not a valid base16 string: %v", err)
	}
	return push(L, glua.LString(out))
}

// hexHash is sha256_hash or md5_hash: (input), the hash in hex.
func hexHash(h func() hash.Hash) nkFunc {
	return func(_ *state, L *glua.LState) int {
		d := h()
		d.Write([]byte(L.CheckString(1)))
		return push(L, glua.LString(hex.EncodeToString(d.Sum(nil))))
	}
}

// hmacSHA256 is (input, key) and returns the raw MAC, as Nakama does (not hex).
func hmacSHA256(_ *state, L *glua.LState) int {
	mac := hmac.New(sha256.New, []byte(L.CheckString(2)))
	mac.Write([]byte(L.CheckString(1)))
	return push(L, glua.LString(mac.Sum(nil)))
}

// logger is logger_debug and the like: (message); it returns the message.
func logger(f func(runtime.Logger, string, ...any)) nkFunc {
	return func(s *state, L *glua.LState) int {
		msg := L.CheckString(1)
		f(s.log, "%s", msg)
		return push(L, glua.LString(msg))
	}
}

// stringList reads an optional list of strings.
func stringList(L *glua.LState, n int) []string {
	t := L.OptTable(n, nil)
	if t == nil {
		return nil
	}
	var out []string
	for i := 1; i <= t.Len(); i++ {
		v, ok := t.RawGetInt(i).(glua.LString)
		if !ok || v == "" {
			L.ArgError(n, "expects a list of non-empty strings")
		}
		out = append(out, string(v))
	}
	return out
}

// stringTable reads an optional table of string keys and values, such as session vars.
func stringTable(L *glua.LState, n int) map[string]string {
	t := L.OptTable(n, nil)
	if t == nil {
		return nil
	}
	out := map[string]string{}
	t.ForEach(func(k, v glua.LValue) {
		ks, ok1 := k.(glua.LString)
		vs, ok2 := v.(glua.LString)
		if !ok1 || !ok2 {
			L.ArgError(n, "expects string keys and values")
		}
		out[string(ks)] = string(vs)
	})
	return out
}

// userTable is a user as Nakama's Lua runtime gives it: times in Unix seconds, metadata a table.
func userTable(L *glua.LState, u *api.User) (*glua.LTable, error) {
	t := L.CreateTable(0, 18)
	for k, v := range map[string]string{
		"user_id": u.ID, "username": u.Username, "display_name": u.DisplayName, "avatar_url": u.AvatarURL,
		"lang_tag": u.LangTag, "location": u.Location, "timezone": u.Timezone,
	} {
		t.RawSetString(k, glua.LString(v))
	}
	for k, v := range map[string]string{
		"apple_id": u.AppleID, "facebook_id": u.FacebookID, "facebook_instant_game_id": u.FacebookInstantGameID,
		"google_id": u.GoogleID, "gamecenter_id": u.GamecenterID, "steam_id": u.SteamID,
	} {
		if v != "" {
			t.RawSetString(k, glua.LString(v))
		}
	}
	t.RawSetString("online", glua.LBool(u.Online))
	t.RawSetString("edge_count", glua.LNumber(u.EdgeCount))
	t.RawSetString("create_time", glua.LNumber(unixSeconds(u.CreateTime)))
	t.RawSetString("update_time", glua.LNumber(unixSeconds(u.UpdateTime)))
	metadata, err := objectTable(L, u.Metadata)
	if err != nil {
		return nil, err
	}
	t.RawSetString("metadata", metadata)
	return t, nil
}

// accountTable is an account as Nakama's Lua runtime gives it: the user's fields, the user again under
// "user", the wallet as a table, the devices as a list of {id = ...}.
func accountTable(L *glua.LState, a *api.Account) (*glua.LTable, error) {
	u := a.User
	if u == nil {
		u = &api.User{}
	}
	t, err := userTable(L, u)
	if err != nil {
		return nil, err
	}
	user, err := userTable(L, u)
	if err != nil {
		return nil, err
	}
	t.RawSetString("user", user)
	wallet, err := objectTable(L, a.Wallet)
	if err != nil {
		return nil, err
	}
	t.RawSetString("wallet", wallet)
	if a.Email != "" {
		t.RawSetString("email", glua.LString(a.Email))
	}
	if len(a.Devices) > 0 {
		devices := L.CreateTable(len(a.Devices), 0)
		for i, d := range a.Devices {
			dt := L.CreateTable(0, 1)
			dt.RawSetString("id", glua.LString(d.ID))
			devices.RawSetInt(i+1, dt)
		}
		t.RawSetString("devices", devices)
	}
	if a.CustomID != "" {
		t.RawSetString("custom_id", glua.LString(a.CustomID))
	}
	if a.VerifyTime != "" {
		t.RawSetString("verify_time", glua.LNumber(unixSeconds(a.VerifyTime)))
	}
	if a.DisableTime != "" {
		t.RawSetString("disable_time", glua.LNumber(unixSeconds(a.DisableTime)))
	}
	return t, nil
}

// objectTable decodes a JSON object (metadata, wallet) to a table; empty text is an empty table.
func objectTable(L *glua.LState, text string) (*glua.LTable, error) {
	m := map[string]any{}
	if text != "" {
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			return nil, err
		}
	}
	return toLua(L, m).(*glua.LTable), nil
}

func unixSeconds(rfc3339 string) int64 {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return 0
	}
	return t.Unix()
}
