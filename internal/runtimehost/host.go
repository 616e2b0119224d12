// Package runtimehost runs studio modules written against the public runtime package: it holds their
// registered RPCs and hooks, runs each with a deadline and panic recovery on a context carrying Nakama's
// runtime values, and implements the server functions (runtime.NakamaModule) over the domain services.
package runtimehost

//lint:file-ignore SA1029 the context keys are runtime.RUNTIME_CTX_*, plain strings as in Nakama's runtime, so ported modules read them unchanged.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/realtime"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Deps are the host's collaborators and settings.
type Deps struct {
	Accounts *accounts.Service
	Sessions *sessions.Manager
	// Realtime is the socket hub, for the socket server functions; nil serves none.
	Realtime *realtime.Hub
	DB       *sql.DB
	Logger   *slog.Logger
	Env      map[string]string
	Node     string
	// Timeout bounds every hook and RPC call; 0 means 5 s.
	Timeout time.Duration
	// Tickets mints and redeems join tickets for TicketMint and TicketRedeem; nil answers them
	// runtime.ErrTicketsNotConfigured.
	Tickets *tickets.Service
	// Platforms verifies platform credentials for the platform server functions, as for the REST API; nil
	// answers every platform as not configured.
	Platforms httpapi.Platforms
}

// Host implements runtime.Initializer for modules, httpapi.Hooks and httpapi.RPCs for the API, and
// runtime.NakamaModule for the functions modules call.
type Host struct {
	d   Deps
	log *slog.Logger
	nk  *module

	mu     sync.RWMutex
	rpcs   map[string]runtime.RpcFunc
	before map[string]func(ctx context.Context, req any) (any, error)
	after  map[string]func(ctx context.Context, req, resp any) error
	events map[string]func(context.Context, runtime.Logger, *api.Event)
	eventq chan sessionEvent

	// Registration bookkeeping while modules load: who registered what, and the conflicts found.
	loading   string
	owners    map[string]string
	conflicts []string
}

var (
	_ runtime.Initializer = (*Host)(nil)
	_ httpapi.Hooks       = (*Host)(nil)
	_ httpapi.RPCs        = (*Host)(nil)
)

// New returns a host with nothing registered.
func New(d Deps) *Host {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Second
	}
	h := &Host{
		d: d, log: d.Logger.With("component", "runtime"),
		rpcs:   map[string]runtime.RpcFunc{},
		before: map[string]func(context.Context, any) (any, error){},
		after:  map[string]func(context.Context, any, any) error{},
		events: map[string]func(context.Context, runtime.Logger, *api.Event){},
	}
	h.nk = &module{h: h}
	return h
}

// Module returns the server functions, for tests and tools.
func (h *Host) Module() runtime.NakamaModule { return h.nk }

// Load runs each module's InitModule; the first error stops the start.
func (h *Host) Load(ctx context.Context, mods ...runtime.InitModule) error {
	named := make([]Named, len(mods))
	for i, m := range mods {
		named[i] = Named{Name: fmt.Sprintf("runtime module %d", i+1), Init: m}
	}
	return h.LoadNamed(ctx, named...)
}

// Named is a module with the name start-up errors call it by ("Go module 1", "JavaScript build/index.js").
type Named struct {
	Name string
	Init runtime.InitModule
}

// LoadNamed runs each module's InitModule in order. A module may register the same RPC id or hook twice
// (the later one wins, as in Nakama); two modules registering the same one is a conflict, and every
// conflict is reported, with both modules' names, in the error that stops the start.
func (h *Host) LoadNamed(ctx context.Context, mods ...Named) error {
	for _, m := range mods {
		h.mu.Lock()
		h.loading = m.Name
		h.mu.Unlock()
		if err := m.Init(h.runtimeCtx(ctx, "init"), h.logger("init"), h.d.DB, h.nk, h); err != nil {
			return fmt.Errorf("%s: InitModule: %w", m.Name, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loading = ""
	if len(h.conflicts) > 0 {
		return fmt.Errorf("server code registers the same thing in two modules: %s", strings.Join(h.conflicts, "; "))
	}
	return nil
}

// claim records that the module being loaded registers what, noting a conflict when another module
// already did. The caller holds h.mu.
func (h *Host) claim(what string) {
	if h.owners == nil {
		h.owners = map[string]string{}
	}
	if prev, ok := h.owners[what]; ok && prev != h.loading {
		h.conflicts = append(h.conflicts, fmt.Sprintf("%s in %s and in %s", what, prev, h.loading))
		return
	}
	h.owners[what] = h.loading
}

// Empty reports whether no hook or RPC is registered, so the server can skip the hooks layer.
func (h *Host) Empty() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rpcs) == 0 && len(h.before) == 0 && len(h.after) == 0 && len(h.events) == 0
}

// Before implements httpapi.Hooks.
func (h *Host) Before(ctx context.Context, name string, req any) (any, error) {
	h.mu.RLock()
	fn := h.before[name]
	h.mu.RUnlock()
	if fn == nil {
		return req, nil
	}
	return guarded(h, ctx, "before "+name, func(ctx context.Context) (any, error) {
		return fn(h.runtimeCtx(ctx, "before"), req)
	})
}

// After implements httpapi.Hooks. For authentication and refresh, whose callers are not authenticated,
// the context carries the user of the session just issued.
func (h *Host) After(ctx context.Context, name string, req, resp any) error {
	h.mu.RLock()
	fn := h.after[name]
	h.mu.RUnlock()
	if fn == nil {
		return nil
	}
	if s, ok := resp.(*api.Session); ok && s.Token != "" {
		if c, err := h.d.Sessions.Validate(s.Token); err == nil {
			ctx = withCaller(ctx, c.UserID, c.Username, c.TokenID, c.Vars, c.ExpiresAt)
		}
	}
	return h.guard(ctx, "after "+name, func(ctx context.Context) error {
		return fn(h.runtimeCtx(ctx, "after"), req, resp)
	})
}

// Rpc implements httpapi.RPCs.
func (h *Host) Rpc(ctx context.Context, id, payload string) (string, bool, error) {
	h.mu.RLock()
	fn := h.rpcs[id]
	h.mu.RUnlock()
	if fn == nil {
		return "", false, nil
	}
	result, err := guarded(h, ctx, "rpc "+id, func(ctx context.Context) (string, error) {
		return fn(h.runtimeCtx(ctx, "rpc"), h.logger("rpc "+id), h.d.DB, h.nk, payload)
	})
	return result, true, err
}

var (
	errInternal = &api.Error{Code: api.CodeInternal, Message: "Internal server error."}
	errTimeout  = &api.Error{Code: api.CodeDeadlineExceeded, Message: "Request timed out."}
)

// guard runs fn with the host's deadline, recovering a panic. A panic is logged with its stack and answered
// as a generic internal error; an overrun is answered at the deadline while fn goes on in the background
// (Go cannot stop it) with a cancelled context. A *runtime.Error passes its code and message to the client;
// any other error is logged and answered as internal, so that no internal detail reaches the client.
func (h *Host) guard(ctx context.Context, what string, fn func(context.Context) error) error {
	_, err := guarded(h, ctx, what, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// guarded is guard for a call with a result. The result travels with the error on the call's channel, so
// a call that overran its deadline, and goes on in the background, never writes where its caller reads.
func guarded[T any](h *Host, ctx context.Context, what string, fn func(context.Context) (T, error)) (T, error) {
	type outcome struct {
		v   T
		err error
	}
	var zero T
	ctx, cancel := context.WithTimeout(ctx, h.d.Timeout)
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("server code panicked", "call", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- outcome{err: errInternal}
			}
		}()
		v, err := fn(ctx)
		done <- outcome{v, err}
	}()
	var o outcome
	select {
	case o = <-done:
		cancel()
	case <-ctx.Done():
		cancel()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			h.log.Error("server code overran its deadline", "call", what, "timeout", h.d.Timeout)
			return zero, errTimeout
		}
		return zero, ctx.Err()
	}
	if o.err == nil {
		return o.v, nil
	}
	var re *runtime.Error
	if errors.As(o.err, &re) {
		return zero, &api.Error{Code: api.Code(re.Code), Message: re.Message}
	}
	var ae *api.Error
	if errors.As(o.err, &ae) {
		return zero, ae
	}
	if e, known := httpapi.WireError(o.err); known {
		return zero, &e // a server function's domain error, answered as the REST API answers it
	}
	h.log.Error("server code failed", "call", what, "err", o.err)
	return zero, errInternal
}

// runtimeCtx adds Nakama's runtime values to ctx: always env, execution_mode and node; headers, query
// parameters and client address for HTTP calls; the caller when one is authenticated. Maps are copies.
func (h *Host) runtimeCtx(ctx context.Context, mode string) context.Context {
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_ENV, maps.Clone(h.d.Env))
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_MODE, mode)
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_NODE, h.d.Node)
	if r := httpapi.HTTPRequest(ctx); r != nil {
		headers := map[string][]string{}
		for k, v := range r.Header {
			headers[k] = append([]string(nil), v...)
		}
		query := map[string][]string{}
		for k, v := range r.URL.Query() {
			if k != "http_key" {
				query[k] = v
			}
		}
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_HEADERS, headers)
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_QUERY_PARAMS, query)
		ip, port, _ := httpapi.ClientAddr(ctx) // the peer's, or the client's behind a trusted proxy
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_CLIENT_IP, ip)
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_CLIENT_PORT, port)
	}
	if c, ok := httpapi.Caller(ctx); ok {
		ctx = withCaller(ctx, c.UserID, c.Username, c.TokenID, c.Vars, c.ExpiresAt)
	}
	// Over the socket, session_id is the socket's own id, as in Nakama: the id SessionDisconnect takes.
	if c, ok := realtime.CallerFrom(ctx); ok {
		ctx = withCaller(ctx, c.UserID, c.Username, c.SocketID, c.Vars, c.Expiry)
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_LANG, c.Lang)
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_CLIENT_IP, c.ClientIP)
		ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_CLIENT_PORT, c.ClientPort)
	}
	return ctx
}

func withCaller(ctx context.Context, userID, username, sessionID string, vars map[string]string, exp int64) context.Context {
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_USER_ID, userID)
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_USERNAME, username)
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_SESSION_ID, sessionID)
	ctx = context.WithValue(ctx, runtime.RUNTIME_CTX_USER_SESSION_EXP, exp)
	if vars == nil {
		vars = map[string]string{}
	}
	return context.WithValue(ctx, runtime.RUNTIME_CTX_VARS, maps.Clone(vars))
}

// RegisterRpc implements runtime.Initializer. Ids are case-insensitive, as in Nakama.
func (h *Host) RegisterRpc(id string, fn runtime.RpcFunc) error {
	if id == "" || fn == nil {
		return errors.New("RegisterRpc: id and function are required")
	}
	h.mu.Lock()
	h.claim("RPC " + strings.ToLower(id))
	h.rpcs[strings.ToLower(id)] = fn
	h.mu.Unlock()
	return nil
}

func (h *Host) setBefore(name string, fn func(ctx context.Context, req any) (any, error)) error {
	h.mu.Lock()
	h.claim("before-hook " + name)
	h.before[name] = fn
	h.mu.Unlock()
	return nil
}

func (h *Host) setAfter(name string, fn func(ctx context.Context, req, resp any) error) error {
	h.mu.Lock()
	h.claim("after-hook " + name)
	h.after[name] = fn
	h.mu.Unlock()
	return nil
}

// before adapts a typed before-hook. A nil result refuses the call, as in Nakama.
func before[Req any](h *Host, name string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Req) (*Req, error)) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setBefore(name, func(ctx context.Context, req any) (any, error) {
		out, err := fn(ctx, h.logger("before "+name), h.d.DB, h.nk, req.(*Req))
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	})
}

// afterOut adapts a typed after-hook that sees the response and the request.
func afterOut[Req, Resp any](h *Host, name string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Resp, *Req) error) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setAfter(name, func(ctx context.Context, req, resp any) error {
		return fn(ctx, h.logger("after "+name), h.d.DB, h.nk, resp.(*Resp), req.(*Req))
	})
}

// afterIn adapts a typed after-hook that sees only the request.
func afterIn[Req any](h *Host, name string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *Req) error) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setAfter(name, func(ctx context.Context, req, _ any) error {
		return fn(ctx, h.logger("after "+name), h.d.DB, h.nk, req.(*Req))
	})
}

// beforeCaller adapts a before-hook of a call without a request (the caller is in the context): an error
// refuses the call, otherwise it goes on unchanged.
func beforeCaller(h *Host, name string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setBefore(name, func(ctx context.Context, req any) (any, error) {
		if err := fn(ctx, h.logger("before "+name), h.d.DB, h.nk); err != nil {
			return nil, err
		}
		return req, nil
	})
}

// Hook names are the ones internal/httpapi passes to Hooks.

func (h *Host) RegisterBeforeAuthenticateDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateDeviceRequest) (*api.AuthenticateDeviceRequest, error)) error {
	return before(h, "authenticatedevice", fn)
}

func (h *Host) RegisterAfterAuthenticateDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateDeviceRequest) error) error {
	return afterOut(h, "authenticatedevice", fn)
}

func (h *Host) RegisterBeforeAuthenticateEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateEmailRequest) (*api.AuthenticateEmailRequest, error)) error {
	return before(h, "authenticateemail", fn)
}

func (h *Host) RegisterAfterAuthenticateEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateEmailRequest) error) error {
	return afterOut(h, "authenticateemail", fn)
}

func (h *Host) RegisterBeforeAuthenticateCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateCustomRequest) (*api.AuthenticateCustomRequest, error)) error {
	return before(h, "authenticatecustom", fn)
}

func (h *Host) RegisterAfterAuthenticateCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateCustomRequest) error) error {
	return afterOut(h, "authenticatecustom", fn)
}

func (h *Host) RegisterBeforeSessionRefresh(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.SessionRefreshRequest) (*api.SessionRefreshRequest, error)) error {
	return before(h, "sessionrefresh", fn)
}

func (h *Host) RegisterAfterSessionRefresh(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.SessionRefreshRequest) error) error {
	return afterOut(h, "sessionrefresh", fn)
}

func (h *Host) RegisterBeforeSessionLogout(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.SessionLogoutRequest) (*api.SessionLogoutRequest, error)) error {
	return before(h, "sessionlogout", fn)
}

func (h *Host) RegisterAfterSessionLogout(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.SessionLogoutRequest) error) error {
	return afterIn(h, "sessionlogout", fn)
}

func (h *Host) RegisterBeforeGetAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error) error {
	return beforeCaller(h, "getaccount", fn)
}

func (h *Host) RegisterAfterGetAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Account) error) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setAfter("getaccount", func(ctx context.Context, _, resp any) error {
		return fn(ctx, h.logger("after getaccount"), h.d.DB, h.nk, resp.(*api.Account))
	})
}

func (h *Host) RegisterBeforeUpdateAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.UpdateAccountRequest) (*api.UpdateAccountRequest, error)) error {
	return before(h, "updateaccount", fn)
}

func (h *Host) RegisterAfterUpdateAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.UpdateAccountRequest) error) error {
	return afterIn(h, "updateaccount", fn)
}
