package lua

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heroiclabs/nakama-common/rtapi"
	glua "github.com/yuin/gopher-lua"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/latchkeyhq/latchkey/runtime"
)

// binder registers, on the Go initializer, the Go function that runs the Lua function under key.
type binder func(init runtime.Initializer, r *luaRuntime, key string) error

type hookSpec struct{ before, after binder }

// I is short for the Initializer in the table below, whose method expressions carry the hook types.
type I = runtime.Initializer

// reqHooks maps Nakama's message names, lower-cased as Nakama matches them, to the Initializer methods
// that register their hooks.
var reqHooks = map[string]hookSpec{
	"authenticatedevice":              {beforeReq(I.RegisterBeforeAuthenticateDevice), afterOutIn(I.RegisterAfterAuthenticateDevice)},
	"authenticateemail":               {beforeReq(I.RegisterBeforeAuthenticateEmail), afterOutIn(I.RegisterAfterAuthenticateEmail)},
	"authenticatecustom":              {beforeReq(I.RegisterBeforeAuthenticateCustom), afterOutIn(I.RegisterAfterAuthenticateCustom)},
	"authenticateapple":               {beforeReq(I.RegisterBeforeAuthenticateApple), afterOutIn(I.RegisterAfterAuthenticateApple)},
	"authenticategoogle":              {beforeReq(I.RegisterBeforeAuthenticateGoogle), afterOutIn(I.RegisterAfterAuthenticateGoogle)},
	"authenticatefacebook":            {beforeReq(I.RegisterBeforeAuthenticateFacebook), afterOutIn(I.RegisterAfterAuthenticateFacebook)},
	"authenticatefacebookinstantgame": {beforeReq(I.RegisterBeforeAuthenticateFacebookInstantGame), afterOutIn(I.RegisterAfterAuthenticateFacebookInstantGame)},
	"authenticategamecenter":          {beforeReq(I.RegisterBeforeAuthenticateGameCenter), afterOutIn(I.RegisterAfterAuthenticateGameCenter)},
	"authenticatesteam":               {beforeReq(I.RegisterBeforeAuthenticateSteam), afterOutIn(I.RegisterAfterAuthenticateSteam)},
	"sessionrefresh":                  {beforeReq(I.RegisterBeforeSessionRefresh), afterOutIn(I.RegisterAfterSessionRefresh)},
	"sessionlogout":                   {beforeReq(I.RegisterBeforeSessionLogout), afterIn(I.RegisterAfterSessionLogout)},
	"getaccount":                      {noBody(1, I.RegisterBeforeGetAccount), afterOut(I.RegisterAfterGetAccount)},
	"updateaccount":                   {beforeReq(I.RegisterBeforeUpdateAccount), afterIn(I.RegisterAfterUpdateAccount)},
	"deleteaccount":                   {noBody(1, I.RegisterBeforeDeleteAccount), noBody(2, I.RegisterAfterDeleteAccount)},
	"getusers":                        {beforeReq(I.RegisterBeforeGetUsers), afterOutIn(I.RegisterAfterGetUsers)},
	"linkapple":                       {beforeReq(I.RegisterBeforeLinkApple), afterIn(I.RegisterAfterLinkApple)},
	"linkcustom":                      {beforeReq(I.RegisterBeforeLinkCustom), afterIn(I.RegisterAfterLinkCustom)},
	"linkdevice":                      {beforeReq(I.RegisterBeforeLinkDevice), afterIn(I.RegisterAfterLinkDevice)},
	"linkemail":                       {beforeReq(I.RegisterBeforeLinkEmail), afterIn(I.RegisterAfterLinkEmail)},
	"linkfacebook":                    {beforeReq(I.RegisterBeforeLinkFacebook), afterIn(I.RegisterAfterLinkFacebook)},
	"linkfacebookinstantgame":         {beforeReq(I.RegisterBeforeLinkFacebookInstantGame), afterIn(I.RegisterAfterLinkFacebookInstantGame)},
	"linkgamecenter":                  {beforeReq(I.RegisterBeforeLinkGameCenter), afterIn(I.RegisterAfterLinkGameCenter)},
	"linkgoogle":                      {beforeReq(I.RegisterBeforeLinkGoogle), afterIn(I.RegisterAfterLinkGoogle)},
	"linksteam":                       {beforeReq(I.RegisterBeforeLinkSteam), afterIn(I.RegisterAfterLinkSteam)},
	"unlinkapple":                     {beforeReq(I.RegisterBeforeUnlinkApple), afterIn(I.RegisterAfterUnlinkApple)},
	"unlinkcustom":                    {beforeReq(I.RegisterBeforeUnlinkCustom), afterIn(I.RegisterAfterUnlinkCustom)},
	"unlinkdevice":                    {beforeReq(I.RegisterBeforeUnlinkDevice), afterIn(I.RegisterAfterUnlinkDevice)},
	"unlinkemail":                     {beforeReq(I.RegisterBeforeUnlinkEmail), afterIn(I.RegisterAfterUnlinkEmail)},
	"unlinkfacebook":                  {beforeReq(I.RegisterBeforeUnlinkFacebook), afterIn(I.RegisterAfterUnlinkFacebook)},
	"unlinkfacebookinstantgame":       {beforeReq(I.RegisterBeforeUnlinkFacebookInstantGame), afterIn(I.RegisterAfterUnlinkFacebookInstantGame)},
	"unlinkgamecenter":                {beforeReq(I.RegisterBeforeUnlinkGameCenter), afterIn(I.RegisterAfterUnlinkGameCenter)},
	"unlinkgoogle":                    {beforeReq(I.RegisterBeforeUnlinkGoogle), afterIn(I.RegisterAfterUnlinkGoogle)},
	"unlinksteam":                     {beforeReq(I.RegisterBeforeUnlinkSteam), afterIn(I.RegisterAfterUnlinkSteam)},
}

// Hook function shapes of the Initializer.
type (
	beforeFn[Req any]           = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Req) (*Req, error)
	afterOutInFn[Req, Resp any] = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Resp, *Req) error
	afterOneFn[T any]           = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *T) error
	callerFn                    = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error
)

// beforeReq binds a before-hook that sees the request: Lua gets (context, request) and returns the
// request to go on with, or nil to refuse the call.
func beforeReq[Req any](reg func(I, beforeFn[Req]) error) binder {
	return func(init I, r *luaRuntime, key string) error {
		return reg(init, func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *Req) (*Req, error) {
			var out *Req
			err := r.invoke(ctx, log, key, tables(in), func(ret glua.LValue) error {
				if ret == glua.LNil {
					return nil
				}
				out = new(Req)
				return fromTable(ret, out)
			})
			return out, err
		})
	}
}

// As in Nakama, after-hooks get (context, response, request), a message that is not there being an empty
// table; their results are ignored.

func afterOutIn[Req, Resp any](reg func(I, afterOutInFn[Req, Resp]) error) binder {
	return func(init I, r *luaRuntime, key string) error {
		return reg(init, func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out *Resp, in *Req) error {
			return r.invoke(ctx, log, key, tables(out, in), nil)
		})
	}
}

func afterIn[Req any](reg func(I, afterOneFn[Req]) error) binder {
	return func(init I, r *luaRuntime, key string) error {
		return reg(init, func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *Req) error {
			return r.invoke(ctx, log, key, tables(nil, in), nil)
		})
	}
}

func afterOut[Resp any](reg func(I, afterOneFn[Resp]) error) binder {
	return func(init I, r *luaRuntime, key string) error {
		return reg(init, func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out *Resp) error {
			return r.invoke(ctx, log, key, tables(out, nil), nil)
		})
	}
}

// noBody binds a hook of a call without a request body (get or delete the account): Lua gets the context
// and n empty tables, (context, {}) before and (context, {}, {}) after as in Nakama; only an error counts.
func noBody(n int, reg func(I, callerFn) error) binder {
	return func(init I, r *luaRuntime, key string) error {
		return reg(init, func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule) error {
			return r.invoke(ctx, log, key, tables(make([]any, n)...), nil)
		})
	}
}

// tables makes the arguments of a hook from messages, through their JSON encoding.
func tables(msgs ...any) func(*state) ([]glua.LValue, error) {
	return func(s *state) ([]glua.LValue, error) {
		out := make([]glua.LValue, len(msgs))
		for i, m := range msgs {
			t, err := jsonTable(s.L, m)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	}
}

// rpc is the Go RPC that runs the Lua function under key: it gets (context, payload) and returns a string
// or nil.
func (r *luaRuntime) rpc(key string) runtime.RpcFunc {
	return func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, payload string) (string, error) {
		var result string
		err := r.invoke(ctx, log, key, func(*state) ([]glua.LValue, error) {
			return []glua.LValue{glua.LString(payload)}, nil
		}, func(ret glua.LValue) error {
			switch v := ret.(type) {
			case glua.LString:
				result = string(v)
			case *glua.LNilType:
			default:
				return fmt.Errorf("lua: RPC returned a %s, want a string or nil", ret.Type())
			}
			return nil
		})
		return result, err
	}
}

// Realtime envelopes reach Lua as Nakama's protojson encoding with proto field names.
var (
	envelopeJSON   = protojson.MarshalOptions{UseProtoNames: true, UseEnumNumbers: true}
	envelopeDecode = protojson.UnmarshalOptions{}
)

func envelopeTable(L *glua.LState, e *rtapi.Envelope) (glua.LValue, error) {
	if e == nil {
		return L.NewTable(), nil
	}
	b, err := envelopeJSON.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("lua: encoding envelope: %w", err)
	}
	return jsonTable(L, json.RawMessage(b))
}

func (r *luaRuntime) beforeRt(key string) func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *rtapi.Envelope) (*rtapi.Envelope, error) {
	return func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *rtapi.Envelope) (*rtapi.Envelope, error) {
		var out *rtapi.Envelope
		err := r.invoke(ctx, log, key, func(s *state) ([]glua.LValue, error) {
			t, err := envelopeTable(s.L, in)
			return []glua.LValue{t}, err
		}, func(ret glua.LValue) error {
			if ret == glua.LNil {
				return nil
			}
			x, err := fromLua(ret, 0)
			if err != nil {
				return fmt.Errorf("lua: a before-hook's result: %w", err)
			}
			b, err := json.Marshal(x)
			if err != nil {
				return fmt.Errorf("lua: a before-hook's result: %w", err)
			}
			out = new(rtapi.Envelope)
			if err := envelopeDecode.Unmarshal(b, out); err != nil {
				return fmt.Errorf("lua: a before-hook's result is not an envelope: %w", err)
			}
			return nil
		})
		return out, err
	}
}

func (r *luaRuntime) afterRt(key string) func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *rtapi.Envelope, *rtapi.Envelope) error {
	return func(ctx context.Context, log runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out, in *rtapi.Envelope) error {
		return r.invoke(ctx, log, key, func(s *state) ([]glua.LValue, error) {
			o, err1 := envelopeTable(s.L, out)
			i, err2 := envelopeTable(s.L, in)
			return []glua.LValue{o, i}, errors.Join(err1, err2)
		}, nil)
	}
}
