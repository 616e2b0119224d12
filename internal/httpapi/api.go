// Package httpapi provides Latchkey's HTTP API: Nakama's REST routes in one table, the per-route
// authentication (server key, bearer session), request decoding, the before/after hook wrapper and the
// mapping of errors to Nakama's wire format.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Hooks runs server code around an API call. Before may return a changed request, or nil to refuse the
// call as disabled; an error aborts the call. After sees the request and the response.
type Hooks interface {
	Before(ctx context.Context, name string, req any) (any, error)
	After(ctx context.Context, name string, req, resp any) error
}

// Deps are the API's collaborators and settings.
type Deps struct {
	Accounts     *accounts.Service
	Sessions     *sessions.Manager
	ServerKey    string
	MaxBodyBytes int64
	Logger       *slog.Logger
	Hooks        Hooks // optional
	RPCs         RPCs  // optional: without it every RPC id is unknown
	HTTPKey      string
	// Realtime serves GET /ws (internal/realtime); without it the path is unknown.
	Realtime http.Handler
	// Platforms verifies platform sign-in credentials; required for the platform routes.
	Platforms Platforms
	// Ready is the store's write probe (storage.Store.CheckWrite) behind GET /readyz; nil: always ready.
	Ready func(context.Context) error
	// Clock times the readiness cache; time.Now when nil.
	Clock func() time.Time
	// Limits are the per-client-address request limits and the trusted proxies; the zero value limits
	// nothing and trusts no proxy.
	Limits Limits
	// Observer is told of every request (internal/metrics); nil: none.
	Observer Observer
	// Photon is the built-in Photon custom-authentication provider; the zero value is off.
	Photon Photon
	// Tickets mints and redeems join tickets; without it the ticket routes answer 404.
	Tickets *tickets.Service
	// VerifierKeys are tickets.verifier_keys: the keys game servers present to the introspection and
	// revocation-feed endpoints. None turns those endpoints off (404).
	VerifierKeys []string
	// MaxFeedWaits bounds the revocation-feed long-polls waiting at once; 0 is 1000.
	MaxFeedWaits int
	// RequestLevel is logger.request_level: the level of the one log line per request (debug, info, warn,
	// error, in any case; "" is debug), or off.
	RequestLevel string
}

// Limits bound the requests one client address can make, since the server key they need ships in every
// game client. A Config with Rate 0 leaves its routes unlimited.
type Limits struct {
	// Auth is shared by every authenticate route; Refresh is session refresh; Socket is the realtime
	// socket's handshake (GET /ws).
	Auth, Refresh, Socket limits.Config
	// TrustedProxies are the peers whose X-Forwarded-For names the client (see ClientAddr).
	TrustedProxies limits.Proxies
}

// RPCs runs server-code RPCs by id. found is false for an unknown id.
type RPCs interface {
	Rpc(ctx context.Context, id, payload string) (result string, found bool, err error)
}

type requestKey struct{}

// HTTPRequest returns the HTTP request behind a hook or RPC call (for its headers, query and client
// address), or nil outside one.
func HTTPRequest(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// Caller returns the authenticated caller of a hook or RPC call, if there is one.
func Caller(ctx context.Context) (tokens.Claims, bool) {
	c, ok := ctx.Value(callerKey{}).(*callerContext)
	if !ok {
		return tokens.Claims{}, false
	}
	return c.caller, true
}

// API serves the HTTP routes.
type API struct {
	accounts  *accounts.Service
	sessions  *sessions.Manager
	serverKey []byte
	maxBody   int64
	log       *slog.Logger
	hooks     Hooks
	rpcs      RPCs
	httpKey   []byte
	realtime  http.Handler
	platforms Platforms
	photon    Photon
	mux       *http.ServeMux
	ready     *readiness
	// accountView is GET /v2/account's answer body as the account cache keeps it.
	accountView *accounts.View

	authLimit, refreshLimit, ticketLimit, socketLimit *limits.Limiter // nil: unlimited
	proxies                                           limits.Proxies

	tickets      *tickets.Service // nil: no tickets
	verifierKeys verifierKeys     // none: the verifier endpoints are off
	feedWaits    waitSlots
	draining     chan struct{} // closed by Drain
	drainOnce    sync.Once

	obs       Observer // nil: not observed
	reqLevel  slog.Level
	reqLog    bool       // false: request_level off
	unmatched *routeInfo // the requests no route matched
	preflight *routeInfo
}

// New returns the API's handler.
func New(d Deps) *API {
	a := &API{
		accounts: d.Accounts, sessions: d.Sessions, serverKey: []byte(d.ServerKey), maxBody: d.MaxBodyBytes,
		log: d.Logger, hooks: d.Hooks, rpcs: d.RPCs, httpKey: []byte(d.HTTPKey), realtime: d.Realtime,
		platforms: d.Platforms, photon: d.Photon, mux: http.NewServeMux(), accountView: accounts.NewView(ownAccountBody),
		authLimit: limits.NewLimiter(d.Limits.Auth), refreshLimit: limits.NewLimiter(d.Limits.Refresh),
		ticketLimit: limits.NewLimiter(d.Limits.Refresh), socketLimit: limits.NewLimiter(d.Limits.Socket), tickets: d.Tickets,
		proxies: d.Limits.TrustedProxies, obs: d.Observer, verifierKeys: newVerifierKeys(d.VerifierKeys),
		draining: make(chan struct{}),
	}
	a.feedWaits.max = int64(d.MaxFeedWaits)
	if a.feedWaits.max <= 0 {
		a.feedWaits.max = defaultMaxFeedWaits
	}
	a.reqLevel, a.reqLog = requestLevel(d.RequestLevel)
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.ready = &readiness{check: d.Ready, clock: d.Clock, log: a.log}
	if a.ready.clock == nil {
		a.ready.clock = time.Now
	}
	if a.maxBody <= 0 {
		a.maxBody = 262144
	}
	a.mount()
	return a
}

// ServeHTTP applies the cross-cutting layers (panic recovery, metrics and the request log, CORS) and
// routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{StatusWriter: StatusWriter{ResponseWriter: w}}
	defer func() {
		if p := recover(); p != nil {
			Recovered(p, a.log, "panic serving request", &rw.StatusWriter, r, func() { a.writeError(rw, r, errInternalPanic) })
		}
		a.finish(rw, r, start)
	}()
	h := rw.Header()
	h["Access-Control-Allow-Origin"] = headerAnyOrigin
	if r.Method == http.MethodOptions {
		rw.route = a.preflight
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, User-Agent")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE")
		h.Set("Access-Control-Max-Age", "86400")
		rw.WriteHeader(http.StatusOK)
		return
	}
	a.mux.ServeHTTP(rw, r)
}

// headerAnyOrigin is the Access-Control-Allow-Origin of every answer, shared like headerJSON.
var headerAnyOrigin = []string{"*"}

// statusWriter records, besides the status, the route that served the request and the authenticated
// caller, for the metrics and the request log.
type statusWriter struct {
	StatusWriter
	route  *routeInfo // nil until routed
	userID string
}

// authKind is a route's authentication.
type authKind int

const (
	authNone      authKind = iota
	authServerKey          // HTTP Basic with the server key as the user name
	authSession            // Bearer session token
	authRPC                // the RPC route authenticates itself (http_key or Bearer), see rpc.go
	authSocket             // the websocket handshake checks the token itself (header or query)
	authVerifier           // Bearer with one of tickets.verifier_keys (Latchkey)
)

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type callerKey struct{}

// callerContext carries the caller of an authenticated request: one allocation per request, where
// context.WithValue would make two (the context and the claims boxed in an interface). Its Value answers
// callerKey with the callerContext itself, so that reading the caller allocates nothing either.
type callerContext struct {
	context.Context
	caller tokens.Claims
}

func withCaller(ctx context.Context, c tokens.Claims) context.Context {
	return &callerContext{Context: ctx, caller: c}
}

func (c *callerContext) Value(key any) any {
	if _, ok := key.(callerKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// callerFrom returns the request's caller; only valid on authSession routes.
func callerFrom(ctx context.Context) tokens.Claims {
	c, _ := Caller(ctx)
	return c
}

// wrap turns a route into an http.Handler: authentication first, then the handler, with every error
// written the one way.
func (a *API) wrap(auth authKind, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch auth {
		case authServerKey:
			if err := a.checkServerKey(r); err != nil {
				a.writeError(w, r, err)
				return
			}
		case authSession:
			c, err := a.checkBearer(r)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			markUser(w, c.UserID)
			r = r.WithContext(withCaller(r.Context(), c))
		case authVerifier:
			if err := a.checkVerifierKey(r); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		if a.hooks != nil { // server code may read the request; without hooks nothing pays for it
			ip, port := a.clientAddr(r)
			ctx := context.WithValue(r.Context(), clientAddrKey{}, [2]string{ip, port})
			r = r.WithContext(context.WithValue(ctx, requestKey{}, r))
		}
		if err := h(w, r); err != nil {
			if auth == authSession && errors.Is(err, accounts.ErrAccountNotFound) {
				// The caller's own account is gone: it was deleted, on this node or on another whose
				// feed entry has not arrived yet. Its sessions ended with it, so the token is refused as
				// the denylist will refuse it a moment later, and as Nakama refuses a deleted account's
				// token, rather than answered 404 for the account.
				err = sessions.ErrTokenInvalid
			}
			a.writeError(w, r, err)
		}
	})
}

// checkServerKey accepts `Authorization: Basic base64(serverkey:anything)`; the password part is ignored,
// as in Nakama.
func (a *API) checkServerKey(r *http.Request) error {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return errServerKeyRequired
	}
	if len(vals) > 1 {
		return errServerKeyRequired
	}
	user, ok := basicUser(vals[0])
	if !ok || subtle.ConstantTimeCompare([]byte(user), a.serverKey) != 1 {
		return errServerKeyInvalid
	}
	return nil
}

// basicUser returns the user part of a Basic credential; a colon is required.
func basicUser(h string) (string, bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	if err != nil {
		return "", false
	}
	user, _, ok := strings.Cut(string(raw), ":")
	return user, ok
}

// checkBearer validates `Authorization: Bearer <session token>` from memory: signature, expiry and the
// denylist.
func (a *API) checkBearer(r *http.Request) (tokens.Claims, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return tokens.Claims{}, errAuthTokenRequired
	}
	if len(vals) > 1 {
		return tokens.Claims{}, sessions.ErrTokenInvalid
	}
	tok, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return tokens.Claims{}, sessions.ErrTokenInvalid
	}
	return a.sessions.Authenticate(tok)
}

// clientMeta describes the client for the session record.
func (a *API) clientMeta(r *http.Request) sessions.Meta {
	ip, _ := a.clientAddr(r)
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return sessions.Meta{UserAgent: ua, ClientIP: ip}
}

// clientAddr is the client's address, the one everything that names or limits a client uses: the peer's,
// or, from a trusted proxy, the right-most X-Forwarded-For entry that is not a trusted proxy.
func (a *API) clientAddr(r *http.Request) (ip, port string) {
	return a.proxies.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

type clientAddrKey struct{}

// ClientAddr returns the client address of a hook or RPC call, as the API resolved it (through trusted
// proxies); ok is false outside one. The port is empty when a proxy forwarded the address.
func ClientAddr(ctx context.Context) (ip, port string, ok bool) {
	a, ok := ctx.Value(clientAddrKey{}).([2]string)
	return a[0], a[1], ok
}

// limited applies a route's per-client-address limit: every authenticate route shares one bucket per
// address, refresh has its own, join tickets one more with refresh's rates, other routes have none.
// Authenticate calls also carry the client address to the accounts service, for the security event of a
// login lockout.
func (a *API) limited(path string, h handlerFunc) handlerFunc {
	var l *limits.Limiter
	auth := strings.HasPrefix(path, authPrefix)
	name := "auth"
	switch {
	case auth:
		l = a.authLimit
	case path == "/v2/account/session/refresh", path == "/v2/session/refresh":
		l, name = a.refreshLimit, "refresh"
	case path == ticketPath:
		l, name = a.ticketLimit, "ticket"
	default:
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ip, _ := a.clientAddr(r)
		if re := a.allow(l, name, ip); re != nil {
			return re
		}
		if auth {
			r = r.WithContext(accounts.WithClientIP(r.Context(), ip))
		}
		return h(w, r)
	}
}

// allow takes a token from the bucket of the client address ip in l; when there is none it counts a
// refusal of the limit name and returns the error that answers it (429, code 8, Retry-After).
func (a *API) allow(l *limits.Limiter, name, ip string) *limits.RetryError {
	ok, wait := l.Allow(limits.Key(ip))
	if ok {
		return nil
	}
	if a.obs != nil {
		a.obs.Refused(name)
	}
	return &limits.RetryError{Err: errRateLimited, After: wait}
}
