package httpapi

import (
	"net"
	"net/http"
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
// Nakama's documentation prints (Nakama itself answers 404 there), served as an alias.
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
		{"GET", "/ws", authSocket, a.websocket},
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

// websocket hands the handshake to the realtime socket, which answers its refusals in Nakama's plain text.
func (a *API) websocket(w http.ResponseWriter, r *http.Request) error {
	if a.realtime == nil {
		return errNotFound
	}
	// The socket reads the client address from RemoteAddr; behind a trusted proxy, that is the client's.
	if ip, port := a.clientAddr(r); len(a.proxies) > 0 && net.JoinHostPort(ip, port) != r.RemoteAddr {
		r = r.WithContext(r.Context()) // a shallow copy
		r.RemoteAddr = net.JoinHostPort(ip, port)
	}
	a.realtime.ServeHTTP(w, r)
	return nil
}

// mount registers the table. Each path gets one handler that dispatches on the method, so that a known
// path with the wrong method answers like Nakama's gateway (501, code 12) instead of ServeMux's 405, and
// unknown paths answer 404 with code 5.
func (a *API) mount() {
	byPath := map[string]map[string]http.Handler{}
	var order []string
	for _, rt := range a.routes() {
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]http.Handler{}
			order = append(order, rt.path)
		}
		byPath[rt.path][rt.method] = a.wrap(rt.auth, a.limited(rt.path, rt.h))
	}
	for _, path := range order {
		methods := byPath[path]
		if h, ok := methods[http.MethodGet]; ok {
			if _, explicit := methods[http.MethodHead]; !explicit {
				methods[http.MethodHead] = h
			}
		}
		a.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				a.writeError(w, r, errMethodNotAllowed)
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
	for _, u := range unserved {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.writeError(w, r, &notServedError{what: u.what, prefix: strings.TrimSuffix(u.prefix, "/")})
		})
		a.mux.Handle(u.prefix, h)
		if !strings.HasSuffix(u.prefix, "/") {
			a.mux.Handle(u.prefix+"/", h)
		}
	}
	a.mux.Handle("/{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	a.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errNotFound)
	}))
}
