package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// route is one row of the route table.
type route struct {
	method string
	path   string
	auth   authKind
	h      handlerFunc
}

// routes is every path the API serves. Paths and methods are Nakama's; /v2/session/refresh is the path
// Nakama's documentation prints (Nakama itself answers 404 there), served as an alias. A route whose path
// comes from config is off while that path is empty.
func (a *API) routes() []route {
	return append([]route{
		{"GET", "/healthcheck", authNone, a.healthcheck},
		{"GET", "/readyz", authNone, a.readyz}, // (Latchkey)
		{"POST", "/v2/account/authenticate/device", authServerKey, a.authenticateDevice},
		{"POST", "/v2/account/authenticate/email", authServerKey, a.authenticateEmail},
		{"POST", "/v2/account/authenticate/custom", authServerKey, a.authenticateCustom},
		{"POST", "/v2/account/session/refresh", authServerKey, a.sessionRefresh},
		{"POST", "/v2/session/refresh", authServerKey, a.sessionRefresh},
		{"POST", "/v2/session/logout", authSession, a.sessionLogout},
		{"GET", "/v2/account", authSession, a.getAccount},
		{"PUT", "/v2/account", authSession, a.updateAccount},
		{"DELETE", "/v2/account", authSession, a.deleteAccount},
		{"GET", "/v2/user", authSession, a.getUsers},
		{"GET", "/v2/account/sessions", authSession, a.listSessions},
		{"DELETE", "/v2/account/sessions/{id}", authSession, a.deleteSession},
		{"GET", "/v2/rpc/{id}", authRPC, a.rpc},
		{"POST", "/v2/rpc/{id}", authRPC, a.rpc},
		{"GET", a.photon.Path, authNone, a.photonAuth}, // (Latchkey) photon.path, the secret checked inside
		{"POST", a.photon.Path, authNone, a.photonAuth},
		{"GET", "/ws", authSocket, a.websocket},
		// Join tickets and the endpoints game servers use to trust players (Latchkey).
		{"POST", ticketPath, authSession, a.ticket},
		{"GET", "/.well-known/jwks.json", authNone, a.jwks},
		{"POST", "/latchkey/v1/introspect", authVerifier, a.introspect},
		{"GET", "/latchkey/v1/revocations", authVerifier, a.revocations},
	}, a.identityRoutes()...)
}

// unserved lists the parts of Nakama's API Latchkey does not serve, by path prefix, so that a client that
// calls one learns why instead of getting a bare 404.
var unserved = []struct{ prefix, what string }{
	{"/v2/storage", "storage"},
	{"/v2/friend", "friends"},
	{"/v2/group", "groups"},
	{"/v2/user/", "user groups"},
	{"/v2/leaderboard", "leaderboards"},
	{"/v2/tournament", "tournaments"},
	{"/v2/notification", "notifications"},
	{"/v2/iap", "purchases and subscriptions"},
	{"/v2/match", "matches"},
	{"/v2/channel", "chat"},
	{"/v2/event", "events"},
	{"/v2/console", "the console API"},
}

// msgSocketLimited refuses a handshake beyond the client address's socket limit.
const msgSocketLimited = "Too many socket connections, try again later"

// websocket hands the handshake to the realtime socket, which answers its refusals in Nakama's plain text.
// The client address's handshake limit comes first, before the token is read, so that a flood costs one
// bucket lookup per handshake; its refusal is plain text too.
func (a *API) websocket(w http.ResponseWriter, r *http.Request) error {
	if a.realtime == nil {
		return errNotFound
	}
	ip, port := a.clientAddr(r)
	if re := a.allow(a.socketLimit, "socket", ip); re != nil {
		w.Header().Set("Retry-After", strconv.FormatInt(re.RetryAfterSeconds(), 10))
		http.Error(w, msgSocketLimited, http.StatusTooManyRequests)
		return nil
	}
	// The socket reads the client address from RemoteAddr; behind a trusted proxy, that is the client's.
	if len(a.proxies) > 0 && net.JoinHostPort(ip, port) != r.RemoteAddr {
		r = r.WithContext(r.Context()) // a shallow copy
		r.RemoteAddr = net.JoinHostPort(ip, port)
	}
	a.realtime.ServeHTTP(w, r)
	return nil
}

// mount registers the table. Each path gets one handler that dispatches on the method, so that a known
// path with the wrong method answers like Nakama's gateway (501, code 12) instead of ServeMux's 405, and
// unknown paths answer 404 with code 5. Each route's requests are recorded under its table pattern,
// "METHOD /path"; the requests no route matches share a few fixed names (see Observer.Route).
func (a *API) mount() {
	type served struct {
		h     http.Handler
		route *routeInfo
	}
	byPath := map[string]map[string]served{}
	var order []string
	for _, rt := range a.routes() {
		if rt.path == "" {
			continue // off in config
		}
		if _, dup := byPath[rt.path][rt.method]; dup {
			panic("httpapi: two routes for " + rt.method + " " + rt.path)
		}
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]served{}
			order = append(order, rt.path)
		}
		h := a.limited(rt.path, rt.h)
		if kind, ok := strings.CutPrefix(rt.path, authPrefix); ok && a.obs != nil {
			h = a.counted(kind, h)
		}
		byPath[rt.path][rt.method] = served{a.wrap(rt.auth, h), a.newRoute(rt.method + " " + rt.path)}
	}
	a.unmatched, a.preflight = a.newRoute(routeUnmatched), a.newRoute(routePreflight)
	for _, path := range order {
		methods := byPath[path]
		if s, ok := methods[http.MethodGet]; ok {
			if _, explicit := methods[http.MethodHead]; !explicit {
				methods[http.MethodHead] = served{s.h, a.newRoute(http.MethodHead + " " + path)}
			}
		}
		a.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := methods[r.Method]
			if !ok {
				a.writeError(w, r, errMethodNotAllowed)
				return
			}
			markRoute(w, s.route)
			s.h.ServeHTTP(w, r)
		}))
	}
	notServed := a.newRoute(routeUnserved)
	for _, u := range unserved {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			markRoute(w, notServed)
			a.writeError(w, r, &notServedError{what: u.what, prefix: strings.TrimSuffix(u.prefix, "/")})
		})
		a.mux.Handle(u.prefix, h)
		if !strings.HasSuffix(u.prefix, "/") {
			a.mux.Handle(u.prefix+"/", h)
		}
	}
	root := a.newRoute(routeRoot)
	a.mux.Handle("/{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markRoute(w, root)
		w.WriteHeader(http.StatusOK)
	}))
	a.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errNotFound)
	}))
}
