package js

import (
	"context"
	"database/sql"
	"errors"
	"reflect"

	"github.com/dop251/goja"
	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// registration is one function InitModule registered: the initializer method called, the id it was given
// (RPC id or realtime message; empty for hooks), the function, and how to register it on the Go initializer.
type registration struct {
	method, id string
	fn         goja.Callable
	bind       binder
}

func (r registration) bindTo(m *module, init runtime.Initializer, idx int) error {
	return r.bind(m, init, idx, r.id)
}

// binder registers on the Go initializer a function that runs the JavaScript registration idx.
type binder func(m *module, init runtime.Initializer, idx int, id string) error

// hook is one of the server's hooked calls: JavaScript registers on it with registerBefore<name> and
// registerAfter<name>, Nakama's names.
type hook struct {
	name          string
	before, after binder
}

// hooks is every hook of runtime.Initializer. The adapters are chosen by the Go function's shape; their type
// parameters are inferred from the Initializer method.
var hooks = []hook{
	{"AuthenticateApple", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateApple), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateApple)},
	{"AuthenticateCustom", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateCustom), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateCustom)},
	{"AuthenticateDevice", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateDevice), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateDevice)},
	{"AuthenticateEmail", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateEmail), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateEmail)},
	{"AuthenticateFacebook", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateFacebook), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateFacebook)},
	{"AuthenticateFacebookInstantGame", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateFacebookInstantGame), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateFacebookInstantGame)},
	{"AuthenticateGameCenter", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateGameCenter), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateGameCenter)},
	{"AuthenticateGoogle", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateGoogle), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateGoogle)},
	{"AuthenticateSteam", beforeReq(runtime.Initializer.RegisterBeforeAuthenticateSteam), afterOutIn(runtime.Initializer.RegisterAfterAuthenticateSteam)},

	{"SessionRefresh", beforeReq(runtime.Initializer.RegisterBeforeSessionRefresh), afterOutIn(runtime.Initializer.RegisterAfterSessionRefresh)},
	{"SessionLogout", beforeReq(runtime.Initializer.RegisterBeforeSessionLogout), afterIn(runtime.Initializer.RegisterAfterSessionLogout)},

	{"GetAccount", beforeNone(runtime.Initializer.RegisterBeforeGetAccount), afterOut(runtime.Initializer.RegisterAfterGetAccount)},
	{"UpdateAccount", beforeReq(runtime.Initializer.RegisterBeforeUpdateAccount), afterIn(runtime.Initializer.RegisterAfterUpdateAccount)},
	{"DeleteAccount", beforeNone(runtime.Initializer.RegisterBeforeDeleteAccount), afterNone(runtime.Initializer.RegisterAfterDeleteAccount)},
	{"GetUsers", beforeReq(runtime.Initializer.RegisterBeforeGetUsers), afterOutIn(runtime.Initializer.RegisterAfterGetUsers)},

	{"LinkApple", beforeReq(runtime.Initializer.RegisterBeforeLinkApple), afterIn(runtime.Initializer.RegisterAfterLinkApple)},
	{"LinkCustom", beforeReq(runtime.Initializer.RegisterBeforeLinkCustom), afterIn(runtime.Initializer.RegisterAfterLinkCustom)},
	{"LinkDevice", beforeReq(runtime.Initializer.RegisterBeforeLinkDevice), afterIn(runtime.Initializer.RegisterAfterLinkDevice)},
	{"LinkEmail", beforeReq(runtime.Initializer.RegisterBeforeLinkEmail), afterIn(runtime.Initializer.RegisterAfterLinkEmail)},
	{"LinkFacebook", beforeReq(runtime.Initializer.RegisterBeforeLinkFacebook), afterIn(runtime.Initializer.RegisterAfterLinkFacebook)},
	{"LinkFacebookInstantGame", beforeReq(runtime.Initializer.RegisterBeforeLinkFacebookInstantGame), afterIn(runtime.Initializer.RegisterAfterLinkFacebookInstantGame)},
	{"LinkGameCenter", beforeReq(runtime.Initializer.RegisterBeforeLinkGameCenter), afterIn(runtime.Initializer.RegisterAfterLinkGameCenter)},
	{"LinkGoogle", beforeReq(runtime.Initializer.RegisterBeforeLinkGoogle), afterIn(runtime.Initializer.RegisterAfterLinkGoogle)},
	{"LinkSteam", beforeReq(runtime.Initializer.RegisterBeforeLinkSteam), afterIn(runtime.Initializer.RegisterAfterLinkSteam)},

	{"UnlinkApple", beforeReq(runtime.Initializer.RegisterBeforeUnlinkApple), afterIn(runtime.Initializer.RegisterAfterUnlinkApple)},
	{"UnlinkCustom", beforeReq(runtime.Initializer.RegisterBeforeUnlinkCustom), afterIn(runtime.Initializer.RegisterAfterUnlinkCustom)},
	{"UnlinkDevice", beforeReq(runtime.Initializer.RegisterBeforeUnlinkDevice), afterIn(runtime.Initializer.RegisterAfterUnlinkDevice)},
	{"UnlinkEmail", beforeReq(runtime.Initializer.RegisterBeforeUnlinkEmail), afterIn(runtime.Initializer.RegisterAfterUnlinkEmail)},
	{"UnlinkFacebook", beforeReq(runtime.Initializer.RegisterBeforeUnlinkFacebook), afterIn(runtime.Initializer.RegisterAfterUnlinkFacebook)},
	{"UnlinkFacebookInstantGame", beforeReq(runtime.Initializer.RegisterBeforeUnlinkFacebookInstantGame), afterIn(runtime.Initializer.RegisterAfterUnlinkFacebookInstantGame)},
	{"UnlinkGameCenter", beforeReq(runtime.Initializer.RegisterBeforeUnlinkGameCenter), afterIn(runtime.Initializer.RegisterAfterUnlinkGameCenter)},
	{"UnlinkGoogle", beforeReq(runtime.Initializer.RegisterBeforeUnlinkGoogle), afterIn(runtime.Initializer.RegisterAfterUnlinkGoogle)},
	{"UnlinkSteam", beforeReq(runtime.Initializer.RegisterBeforeUnlinkSteam), afterIn(runtime.Initializer.RegisterAfterUnlinkSteam)},
}

// Go shapes of the hook functions.
type (
	beforeReqFn[Req any]        = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Req) (*Req, error)
	beforeNoneFn                = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error
	afterOutInFn[Resp, Req any] = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Resp, *Req) error
	afterInFn[Req any]          = func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Req) error
)

// args returns JavaScript arguments made from Go values.
func args(xs ...any) func(v *vm) ([]goja.Value, error) {
	return func(v *vm) ([]goja.Value, error) {
		out := make([]goja.Value, len(xs))
		for i, x := range xs {
			out[i] = v.toJS(x)
		}
		return out, nil
	}
}

// beforeReq adapts a before-hook with a request: JavaScript gets (ctx, logger, nk, data) and returns the
// request to go on with, or null or undefined to refuse the call.
func beforeReq[Req any](reg func(runtime.Initializer, beforeReqFn[Req]) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, in *Req) (*Req, error) {
			var out *Req
			err := m.invoke(ctx, l, nk, idx, args(in), func(_ *vm, ret goja.Value) error {
				if nullish(ret) {
					return nil
				}
				out = new(Req)
				return decode(ret.Export(), reflect.ValueOf(out).Elem(), "before-hook result")
			})
			if err != nil {
				return nil, err
			}
			return out, nil
		})
	}
}

// beforeNone adapts a before-hook of a call without a request: JavaScript gets (ctx, logger, nk, null); only
// what it throws counts, as in Nakama.
func beforeNone(reg func(runtime.Initializer, beforeNoneFn) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule) error {
			return m.invoke(ctx, l, nk, idx, args(nil), nil)
		})
	}
}

// afterOutIn adapts an after-hook that sees the response and the request: (ctx, logger, nk, data, request).
func afterOutIn[Resp, Req any](reg func(runtime.Initializer, afterOutInFn[Resp, Req]) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, out *Resp, in *Req) error {
			return m.invoke(ctx, l, nk, idx, args(out, in), nil)
		})
	}
}

// afterIn adapts an after-hook that sees only the request: (ctx, logger, nk, null, request), as in Nakama.
func afterIn[Req any](reg func(runtime.Initializer, afterInFn[Req]) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, in *Req) error {
			return m.invoke(ctx, l, nk, idx, args(nil, in), nil)
		})
	}
}

// afterOut adapts an after-hook that sees only the response: (ctx, logger, nk, data, null).
func afterOut[Resp any](reg func(runtime.Initializer, afterInFn[Resp]) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, out *Resp) error {
			return m.invoke(ctx, l, nk, idx, args(out, nil), nil)
		})
	}
}

// afterNone adapts an after-hook without request or response: (ctx, logger, nk, null, null).
func afterNone(reg func(runtime.Initializer, beforeNoneFn) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule) error {
			return m.invoke(ctx, l, nk, idx, args(nil, nil), nil)
		})
	}
}

// bindRpc registers an RPC: JavaScript gets (ctx, logger, nk, payload) and returns a string, or nothing.
func bindRpc(m *module, init runtime.Initializer, idx int, id string) error {
	return init.RegisterRpc(id, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
		var out string
		err := m.invoke(ctx, l, nk, idx, args(payload), func(_ *vm, ret goja.Value) error {
			if nullish(ret) {
				return nil
			}
			s, ok := ret.Export().(string)
			if !ok {
				return errors.New("RPC function returned invalid data: only a string (or nothing) may be returned")
			}
			out = s
			return nil
		})
		return out, err
	})
}

// bindRtBefore registers a realtime before-hook: (ctx, logger, nk, envelope), returning the envelope to go
// on with or null to refuse the message.
func bindRtBefore(m *module, init runtime.Initializer, idx int, id string) error {
	return init.RegisterBeforeRt(id, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, in *rtapi.Envelope) (*rtapi.Envelope, error) {
		var out *rtapi.Envelope
		err := m.invoke(ctx, l, nk, idx, func(v *vm) ([]goja.Value, error) {
			e, err := v.protoJS(in)
			return []goja.Value{e}, err
		}, func(_ *vm, ret goja.Value) error {
			if nullish(ret) {
				return nil
			}
			out = &rtapi.Envelope{}
			return protoFromJS(ret, out)
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}

// bindRtAfter registers a realtime after-hook: (ctx, logger, nk, output or null, input).
func bindRtAfter(m *module, init runtime.Initializer, idx int, id string) error {
	return init.RegisterAfterRt(id, func(ctx context.Context, l runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, out, in *rtapi.Envelope) error {
		return m.invoke(ctx, l, nk, idx, func(v *vm) ([]goja.Value, error) {
			o := goja.Null()
			if out != nil {
				var err error
				if o, err = v.protoJS(out); err != nil {
					return nil, err
				}
			}
			i, err := v.protoJS(in)
			return []goja.Value{o, i}, err
		}, nil)
	})
}

// bindEvent registers a session event handler: (ctx, logger, nk, event), event being {name, properties,
// timestamp, external}. What it throws is logged.
func bindEvent(reg func(runtime.Initializer, func(context.Context, runtime.Logger, *api.Event)) error) binder {
	return func(m *module, init runtime.Initializer, idx int, _ string) error {
		return reg(init, func(ctx context.Context, l runtime.Logger, evt *api.Event) {
			if err := m.invoke(ctx, l, m.initNK, idx, args(evt), nil); err != nil {
				l.Error("javascript event handler failed: %v", err)
			}
		})
	}
}

// initializer is the object InitModule gets. Its methods record the registrations in order.
func (v *vm) initializer() *goja.Object {
	o := v.rt.NewObject()
	record := func(method string, b binder, withID bool) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			r := registration{method: method, bind: b}
			if withID {
				r.id = v.str(c, 0, "id")
				if r.id == "" {
					v.typeError("expects a non empty id")
				}
				r.fn = v.fn(c, 1)
			} else {
				r.fn = v.fn(c, 0)
			}
			v.regs = append(v.regs, r)
			return goja.Undefined()
		}
	}
	set := func(name string, fn func(goja.FunctionCall) goja.Value) { _ = o.Set(name, fn) }
	set("registerRpc", record("registerRpc", bindRpc, true))
	set("registerRtBefore", record("registerRtBefore", bindRtBefore, true))
	set("registerRtAfter", record("registerRtAfter", bindRtAfter, true))
	set("registerEventSessionStart", record("registerEventSessionStart", bindEvent(runtime.Initializer.RegisterEventSessionStart), false))
	set("registerEventSessionEnd", record("registerEventSessionEnd", bindEvent(runtime.Initializer.RegisterEventSessionEnd), false))
	for _, h := range hooks {
		set("registerBefore"+h.name, record("registerBefore"+h.name, h.before, false))
		set("registerAfter"+h.name, record("registerAfter"+h.name, h.after, false))
	}
	for _, name := range unservedRegistrations {
		set(name, func(goja.FunctionCall) goja.Value {
			if v.firstLoad {
				v.m.initLog.Warn("javascript %s: initializer.%s is not served by Latchkey; the registration is ignored", v.m.name, name)
			}
			return goja.Undefined()
		})
	}
	return o
}
