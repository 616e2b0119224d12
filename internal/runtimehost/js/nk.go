package js

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// nakama returns the nk object: the server functions under Nakama's JavaScript names, argument orders and
// result shapes. Each calls the Go runtime.NakamaModule with the call's own context; a Go error is thrown as a
// JavaScript Error whose message is the error's text (with a code property for a *runtime.Error) and which,
// left uncaught, answers the client as the Go error would.
func (v *vm) nakama() *goja.Object {
	o := v.rt.NewObject()
	for name, fn := range v.nkFunctions() {
		_ = o.Set(name, fn)
	}
	for _, name := range unservedFunctions {
		_ = o.Set(name, func(goja.FunctionCall) goja.Value {
			panic(v.rt.NewGoError(fmt.Errorf("nk.%s is not served by Latchkey", name)))
		})
	}
	return o
}

// throw raises err in JavaScript.
func (v *vm) throw(err error) {
	o := v.rt.NewGoError(err)
	var re *runtime.Error
	var ae *api.Error
	switch {
	case errors.As(err, &re):
		_ = o.Set("code", re.Code)
	case errors.As(err, &ae):
		_ = o.Set("code", int(ae.Code))
	}
	panic(o)
}

func (v *vm) check(err error) {
	if err != nil {
		v.throw(err)
	}
}

func (v *vm) undefined(err error) goja.Value {
	v.check(err)
	return goja.Undefined()
}

func (v *vm) authResult(userID, username string, created bool, err error) goja.Value {
	v.check(err)
	return v.toJS(map[string]any{"userId": userID, "username": username, "created": created})
}

// bytes reads a string or binary (ArrayBuffer, typed array) argument.
func (v *vm) bytes(c goja.FunctionCall, i int, what string) []byte {
	switch x := c.Argument(i).Export().(type) {
	case string:
		return []byte(x)
	case goja.ArrayBuffer:
		return x.Bytes()
	case []byte:
		return x
	}
	v.typeError("expects %s to be a string or ArrayBuffer", what)
	return nil
}

func (v *vm) buffer(b []byte) goja.Value { return v.rt.ToValue(v.rt.NewArrayBuffer(b)) }

func (v *vm) nkFunctions() map[string]func(goja.FunctionCall) goja.Value {
	nk := func() runtime.NakamaModule { return v.nk }
	return map[string]func(goja.FunctionCall) goja.Value{
		// Utilities.
		"uuidv4": func(goja.FunctionCall) goja.Value { return v.rt.ToValue(uuid.NewString()) },
		// time is Latchkey's: milliseconds since the Unix epoch, as Nakama's Lua nk.time.
		"time":            func(goja.FunctionCall) goja.Value { return v.rt.ToValue(time.Now().UnixMilli()) },
		"base64Encode":    v.base64Encode(base64.StdEncoding),
		"base64Decode":    v.base64Decode(base64.RawStdEncoding),
		"base64UrlEncode": v.base64Encode(base64.URLEncoding),
		"base64UrlDecode": v.base64Decode(base64.RawURLEncoding),
		"base16Encode": func(c goja.FunctionCall) goja.Value {
			return v.rt.ToValue(hex.EncodeToString(v.bytes(c, 0, "input")))
		},
		"base16Decode": func(c goja.FunctionCall) goja.Value {
			in := v.str(c, 0, "input")
			b, err := hex.DecodeString(in)
			if err != nil {
				v.throw(fmt.Errorf("Failed to decode string: %s", in)) //lint:ignore ST1005 Nakama's message, seen by JavaScript modules
			}
			return v.buffer(b)
		},
		"md5Hash": func(c goja.FunctionCall) goja.Value {
			return v.rt.ToValue(fmt.Sprintf("%x", md5.Sum([]byte(v.str(c, 0, "input")))))
		},
		"sha256Hash": func(c goja.FunctionCall) goja.Value {
			return v.rt.ToValue(fmt.Sprintf("%x", sha256.Sum256([]byte(v.str(c, 0, "input")))))
		},
		"hmacSha256Hash": func(c goja.FunctionCall) goja.Value {
			input, key := v.str(c, 0, "input"), v.str(c, 1, "key")
			if key == "" {
				v.typeError("key cannot be empty")
			}
			mac := hmac.New(sha256.New, []byte(key))
			mac.Write([]byte(input))
			return v.buffer(mac.Sum(nil))
		},
		"binaryToString": func(c goja.FunctionCall) goja.Value {
			b, ok := c.Argument(0).Export().(goja.ArrayBuffer)
			if !ok {
				v.typeError("expects an ArrayBuffer object")
			}
			if !utf8.Valid(b.Bytes()) {
				v.typeError("expects data to be UTF-8 encoded")
			}
			return v.rt.ToValue(string(b.Bytes()))
		},
		"stringToBinary": func(c goja.FunctionCall) goja.Value {
			return v.buffer([]byte(v.str(c, 0, "input")))
		},

		// Authentication.
		"authenticateApple": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateApple(v.ctx, v.str(c, 0, "token"), v.optStr(c, 1, "username"), v.optBool(c, 2, "create", true)))
		},
		"authenticateCustom": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateCustom(v.ctx, v.str(c, 0, "id"), v.optStr(c, 1, "username"), v.optBool(c, 2, "create", true)))
		},
		"authenticateDevice": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateDevice(v.ctx, v.str(c, 0, "id"), v.optStr(c, 1, "username"), v.optBool(c, 2, "create", true)))
		},
		"authenticateEmail": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateEmail(v.ctx, v.optStr(c, 0, "email"), v.str(c, 1, "password"), v.optStr(c, 2, "username"), v.optBool(c, 3, "create", true)))
		},
		"authenticateFacebook": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateFacebook(v.ctx, v.str(c, 0, "token"), v.optBool(c, 1, "importFriends", true), v.optStr(c, 2, "username"), v.optBool(c, 3, "create", true)))
		},
		"authenticateFacebookInstantGame": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateFacebookInstantGame(v.ctx, v.str(c, 0, "signedPlayerInfo"), v.optStr(c, 1, "username"), v.optBool(c, 2, "create", true)))
		},
		"authenticateGameCenter": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateGameCenter(v.ctx, v.str(c, 0, "playerId"), v.str(c, 1, "bundleId"), v.int(c, 2, "timestamp"),
				v.str(c, 3, "salt"), v.str(c, 4, "signature"), v.str(c, 5, "publicKeyUrl"), v.optStr(c, 6, "username"), v.optBool(c, 7, "create", true)))
		},
		"authenticateGoogle": func(c goja.FunctionCall) goja.Value {
			return v.authResult(nk().AuthenticateGoogle(v.ctx, v.str(c, 0, "token"), v.optStr(c, 1, "username"), v.optBool(c, 2, "create", true)))
		},
		"authenticateSteam": func(c goja.FunctionCall) goja.Value {
			// Nakama's server reads (token, importFriends, username, create); its declarations say (token,
			// username, create), and its documentation (token, username, importFriends, create). A string
			// second argument is the username, and then a fourth argument means the third is importFriends.
			var username string
			var create bool
			if _, ok := c.Argument(1).Export().(string); ok {
				username = v.str(c, 1, "username")
				if len(c.Arguments) > 3 {
					v.optBool(c, 2, "importFriends", true)
					create = v.optBool(c, 3, "create", true)
				} else {
					create = v.optBool(c, 2, "create", true)
				}
			} else {
				v.optBool(c, 1, "importFriends", true)
				username = v.optStr(c, 2, "username")
				create = v.optBool(c, 3, "create", true)
			}
			return v.authResult(nk().AuthenticateSteam(v.ctx, v.str(c, 0, "token"), username, create))
		},
		"authenticateTokenGenerate": func(c goja.FunctionCall) goja.Value {
			token, exp, err := nk().AuthenticateTokenGenerate(v.str(c, 0, "userId"), v.optStr(c, 1, "username"), v.optInt(c, 2, "expiresAt", 0), v.strMap(c, 3, "vars"))
			v.check(err)
			return v.toJS(map[string]any{"token": token, "exp": exp})
		},

		// Sessions and sockets.
		"sessionLogout": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().SessionLogout(v.str(c, 0, "userId"), v.optStr(c, 1, "token"), v.optStr(c, 2, "refreshToken")))
		},
		"sessionDisconnect": func(c goja.FunctionCall) goja.Value {
			var reasons []runtime.PresenceReason
			if !nullish(c.Argument(1)) {
				r := v.int(c, 1, "reason")
				if r < 0 || r > 4 {
					v.typeError("invalid disconnect reason, must be a value 0-4")
				}
				reasons = append(reasons, runtime.PresenceReason(r))
			}
			return v.undefined(nk().SessionDisconnect(v.ctx, v.str(c, 0, "sessionId"), reasons...))
		},
		// sessionValidate, sessionsList, sessionRevoke and socketsList are Latchkey's.
		"sessionValidate": func(c goja.FunctionCall) goja.Value {
			s, err := nk().SessionValidate(v.ctx, v.str(c, 0, "token"))
			v.check(err)
			return v.toJS(map[string]any{"sessionId": s.SessionID, "userId": s.UserID, "username": s.Username,
				"vars": nonNil(s.Vars), "expiresAt": s.ExpiresAt, "issuedAt": s.IssuedAt})
		},
		// ticketMint and ticketRedeem are Latchkey's: join tickets for game servers.
		"ticketMint": func(c goja.FunctionCall) goja.Value {
			tk, err := nk().TicketMint(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "sessionId"), v.str(c, 2, "audience"),
				int(v.optInt(c, 3, "ttlSec", 0)), v.strMap(c, 4, "vars"))
			v.check(err)
			return v.toJS(map[string]any{"token": tk.Token, "id": tk.ID, "expiresAt": tk.ExpiresAt})
		},
		"ticketRedeem": func(c goja.FunctionCall) goja.Value {
			t, err := nk().TicketRedeem(v.ctx, v.str(c, 0, "token"), v.str(c, 1, "audience"))
			v.check(err)
			return v.toJS(map[string]any{"userId": t.UserID, "username": t.Username, "sessionId": t.SessionID,
				"audience": t.Audience, "id": t.ID, "expiresAt": t.ExpiresAt, "issuedAt": t.IssuedAt, "vars": nonNil(t.Vars)})
		},
		"sessionsList": func(c goja.FunctionCall) goja.Value {
			list, err := nk().SessionsList(v.ctx, v.str(c, 0, "userId"))
			v.check(err)
			out := make([]any, len(list))
			for i, s := range list {
				out[i] = map[string]any{"id": s.ID, "createTime": s.CreateTime, "refreshTime": s.RefreshTime,
					"expireTime": s.ExpireTime, "userAgent": s.UserAgent, "clientIp": s.ClientIP}
			}
			return v.toJS(out)
		},
		"sessionRevoke": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().SessionRevoke(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "sessionId")))
		},
		"socketsList": func(c goja.FunctionCall) goja.Value {
			list, err := nk().SocketsList(v.ctx, v.str(c, 0, "userId"))
			v.check(err)
			out := make([]any, len(list))
			for i, s := range list {
				out[i] = map[string]any{"sessionId": s.SessionID, "userId": s.UserID, "tokenId": s.TokenID,
					"node": s.Node, "createTime": s.CreateTime}
			}
			return v.toJS(out)
		},
		"streamUserList": func(c goja.FunctionCall) goja.Value {
			// Nakama's form is (stream, includeHidden?, includeNotHidden?) with stream {mode, subject,
			// subcontext, label}; the Go form (mode, subject, subcontext?, label?, includeHidden?,
			// includeNotHidden?) is accepted too.
			var mode int64
			var subject, subcontext, label string
			rest := 1
			if s, ok := c.Argument(0).Export().(map[string]any); ok {
				var stream struct {
					Mode       int64  `json:"mode"`
					Subject    string `json:"subject"`
					Subcontext string `json:"subcontext"`
					Label      string `json:"label"`
				}
				if err := decode(s, reflectOf(&stream), "stream"); err != nil {
					v.typeError("%s", err.Error())
				}
				mode, subject, subcontext, label = stream.Mode, stream.Subject, stream.Subcontext, stream.Label
			} else {
				mode, subject = v.int(c, 0, "mode"), v.str(c, 1, "subject")
				subcontext, label = v.optStr(c, 2, "subcontext"), v.optStr(c, 3, "label")
				rest = 4
			}
			if mode < 0 || mode > 255 {
				v.typeError("expects mode to be 0-255")
			}
			presences, err := nk().StreamUserList(uint8(mode), subject, subcontext, label,
				v.optBool(c, rest, "includeHidden", true), v.optBool(c, rest+1, "includeNotHidden", true))
			v.check(err)
			out := make([]any, len(presences))
			for i, p := range presences {
				out[i] = map[string]any{"userId": p.GetUserId(), "sessionId": p.GetSessionId(), "nodeId": p.GetNodeId(),
					"hidden": p.GetHidden(), "persistence": p.GetPersistence(), "username": p.GetUsername(),
					"status": p.GetStatus(), "reason": int(p.GetReason())}
			}
			return v.toJS(out)
		},

		// Accounts and users.
		"accountGetId": func(c goja.FunctionCall) goja.Value {
			a, err := nk().AccountGetId(v.ctx, v.str(c, 0, "userId"))
			v.check(err)
			out, err := accountJS(a)
			v.check(err)
			return v.toJS(out)
		},
		"accountsGetId": func(c goja.FunctionCall) goja.Value {
			ids := v.strs(c, 0, "userIds")
			out := make([]any, 0, len(ids))
			for _, id := range ids {
				a, err := nk().AccountGetId(v.ctx, id)
				if errors.Is(err, runtime.ErrUserNotFound) {
					continue
				}
				v.check(err)
				m, err := accountJS(a)
				v.check(err)
				out = append(out, m)
			}
			return v.toJS(out)
		},
		"accountUpdateId": func(c goja.FunctionCall) goja.Value {
			var metadata map[string]any
			if !nullish(c.Argument(7)) {
				m, ok := c.Argument(7).Export().(map[string]any)
				if !ok {
					v.typeError("expects metadata to be an object")
				}
				metadata = m
			}
			return v.undefined(nk().AccountUpdateId(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "username"), metadata,
				v.optStr(c, 2, "displayName"), v.optStr(c, 3, "timezone"), v.optStr(c, 4, "location"), v.optStr(c, 5, "langTag"), v.optStr(c, 6, "avatarUrl")))
		},
		"accountDeleteId": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().AccountDeleteId(v.ctx, v.str(c, 0, "userId"), v.optBool(c, 1, "recorded", false)))
		},
		"usersGetId": func(c goja.FunctionCall) goja.Value {
			ids, fbIDs := v.strs(c, 0, "userIds"), v.strs(c, 1, "facebookIds")
			if ids == nil && fbIDs == nil {
				return v.rt.NewArray()
			}
			return v.users(nk().UsersGetId(v.ctx, ids, fbIDs))
		},
		"usersGetUsername": func(c goja.FunctionCall) goja.Value {
			if nullish(c.Argument(0)) {
				v.typeError("expects an array of usernames")
			}
			return v.users(nk().UsersGetUsername(v.ctx, v.strs(c, 0, "usernames")))
		},
		"usersBanId": func(c goja.FunctionCall) goja.Value {
			if nullish(c.Argument(0)) {
				v.typeError("expects an array of user ids")
			}
			return v.undefined(nk().UsersBanId(v.ctx, v.strs(c, 0, "userIds")))
		},
		"usersUnbanId": func(c goja.FunctionCall) goja.Value {
			if nullish(c.Argument(0)) {
				v.typeError("expects an array of user ids")
			}
			return v.undefined(nk().UsersUnbanId(v.ctx, v.strs(c, 0, "userIds")))
		},

		// Linking.
		"linkApple": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkApple(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "token")))
		},
		"linkCustom": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkCustom(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "customId")))
		},
		"linkDevice": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkDevice(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "deviceId")))
		},
		"linkEmail": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkEmail(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "email"), v.str(c, 2, "password")))
		},
		"linkFacebook": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkFacebook(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "username"), v.str(c, 2, "token"), v.optBool(c, 3, "importFriends", true)))
		},
		"linkFacebookInstantGame": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkFacebookInstantGame(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "signedPlayerInfo")))
		},
		"linkGameCenter": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkGameCenter(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "playerId"), v.str(c, 2, "bundleId"), v.int(c, 3, "timestamp"),
				v.str(c, 4, "salt"), v.str(c, 5, "signature"), v.str(c, 6, "publicKeyUrl")))
		},
		"linkGoogle": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkGoogle(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "token")))
		},
		"linkSteam": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().LinkSteam(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "username"), v.str(c, 2, "token"), v.optBool(c, 3, "importFriends", true)))
		},
		"unlinkApple": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkApple(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "token")))
		},
		"unlinkCustom": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkCustom(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "customId")))
		},
		"unlinkDevice": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkDevice(v.ctx, v.str(c, 0, "userId"), v.str(c, 1, "deviceId")))
		},
		"unlinkEmail": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkEmail(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "email")))
		},
		"unlinkFacebook": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkFacebook(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "token")))
		},
		"unlinkFacebookInstantGame": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkFacebookInstantGame(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "signedPlayerInfo")))
		},
		"unlinkGameCenter": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkGameCenter(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "playerId"), v.optStr(c, 2, "bundleId"),
				v.optInt(c, 3, "timestamp", 0), v.optStr(c, 4, "salt"), v.optStr(c, 5, "signature"), v.optStr(c, 6, "publicKeyUrl")))
		},
		"unlinkGoogle": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkGoogle(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "token")))
		},
		"unlinkSteam": func(c goja.FunctionCall) goja.Value {
			return v.undefined(nk().UnlinkSteam(v.ctx, v.str(c, 0, "userId"), v.optStr(c, 1, "token")))
		},
	}
}

// base64Encode encodes a string or binary with enc, or without padding when the second argument is false.
func (v *vm) base64Encode(enc *base64.Encoding) func(goja.FunctionCall) goja.Value {
	return func(c goja.FunctionCall) goja.Value {
		e := enc
		if !v.optBool(c, 1, "padding", true) {
			e = enc.WithPadding(base64.NoPadding)
		}
		return v.rt.ToValue(e.EncodeToString(v.bytes(c, 0, "input")))
	}
}

// base64Decode decodes a string with or without padding into an ArrayBuffer. Nakama's padding argument only
// decides whether missing padding is added; both forms are read here either way.
func (v *vm) base64Decode(raw *base64.Encoding) func(goja.FunctionCall) goja.Value {
	return func(c goja.FunctionCall) goja.Value {
		in := v.str(c, 0, "input")
		v.optBool(c, 1, "padding", true)
		b, err := raw.DecodeString(strings.TrimRight(in, "="))
		if err != nil {
			v.throw(fmt.Errorf("Failed to decode string: %s", in)) //lint:ignore ST1005 Nakama's message, seen by JavaScript modules
		}
		return v.buffer(b)
	}
}

func (v *vm) users(users []*api.User, err error) goja.Value {
	v.check(err)
	out := make([]any, 0, len(users))
	for _, u := range users {
		m, err := userJS(u)
		v.check(err)
		out = append(out, m)
	}
	return v.toJS(out)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// accountJS is an account as Nakama's nk.accountGetId returns it: times in Unix seconds, the wallet and the
// user's metadata parsed, and the optional fields present only when set.
func accountJS(a *api.Account) (map[string]any, error) {
	user := &api.User{}
	if a.User != nil {
		user = a.User
	}
	u, err := userJS(user)
	if err != nil {
		return nil, err
	}
	wallet, err := object(a.Wallet, "wallet")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"user": u, "wallet": wallet}
	if a.Email != "" {
		out["email"] = a.Email
	}
	if len(a.Devices) > 0 {
		devices := make([]any, len(a.Devices))
		for i, d := range a.Devices {
			devices[i] = map[string]any{"id": d.ID}
		}
		out["devices"] = devices
	}
	if a.CustomID != "" {
		out["customId"] = a.CustomID
	}
	if a.VerifyTime != "" {
		out["verifyTime"] = unix(a.VerifyTime)
	}
	if a.DisableTime != "" {
		out["disableTime"] = unix(a.DisableTime)
	}
	return out, nil
}

// userJS is a user as Nakama's nk.usersGetId returns it.
func userJS(u *api.User) (map[string]any, error) {
	metadata, err := object(u.Metadata, "metadata")
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"userId": u.ID, "username": u.Username, "displayName": u.DisplayName, "avatarUrl": u.AvatarURL,
		"langTag": u.LangTag, "location": u.Location, "timezone": u.Timezone, "online": u.Online,
		"edgeCount": u.EdgeCount, "createTime": unix(u.CreateTime), "updateTime": unix(u.UpdateTime), "metadata": metadata,
	}
	for k, id := range map[string]string{"appleId": u.AppleID, "facebookId": u.FacebookID, "facebookInstantGameId": u.FacebookInstantGameID,
		"googleId": u.GoogleID, "gamecenterId": u.GamecenterID, "steamId": u.SteamID} {
		if id != "" {
			out[k] = id
		}
	}
	return out, nil
}

// object parses a JSON object held as text; empty text is an empty object.
func object(text, what string) (map[string]any, error) {
	out := map[string]any{}
	if text == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("failed to convert %s to json: %w", what, err)
	}
	return out, nil
}

// unix reads an RFC 3339 time as Unix seconds; 0 when absent or unreadable.
func unix(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0
	}
	return t.Unix()
}
