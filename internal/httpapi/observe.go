package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
)

// Observer is told of every request and of the outcomes the API decides, for metrics (internal/metrics
// implements it). Its methods must be quick and safe for concurrent use; every argument is a route
// pattern or one word of a fixed set, never anything a client sent.
type Observer interface {
	// Route is asked once per route, when the API is built, for the function that records each of the
	// route's requests: its status and how long it took. route is the route table's "METHOD /path", or
	// one of unmatched (no route: 404, or 501 for a known path's unknown method), unserved (a part of
	// Nakama's API Latchkey does not serve), root and preflight (CORS).
	Route(route string) func(status int, d time.Duration)
	// Authentication counts an authenticate call by identity kind (the route's last segment: device,
	// email, custom, apple, google, gamecenter, steam, facebook, facebookinstantgame) and outcome: ok,
	// created, bad_credentials, banned, not_found, invalid, limited, unavailable or error.
	Authentication(kind, outcome string)
	// Refused counts a request refused by a per-client-address limit: "auth", "refresh", "ticket" or
	// "socket" (a realtime socket handshake).
	Refused(limit string)
}

// authPrefix starts the path of every authenticate route.
const authPrefix = "/v2/account/authenticate/"

// routeInfo names a route for the request log and records its requests.
type routeInfo struct {
	name    string
	observe func(status int, d time.Duration) // nil when metrics are off
}

// The routeInfos of requests no route of the table matched.
const (
	routeUnmatched = "unmatched"
	routeUnserved  = "unserved"
	routeRoot      = "root"
	routePreflight = "preflight"
)

// newRoute returns the routeInfo of a route label.
func (a *API) newRoute(name string) *routeInfo {
	ri := &routeInfo{name: name}
	if a.obs != nil {
		ri.observe = a.obs.Route(name)
	}
	return ri
}

// markRoute tells the request's statusWriter which route serves it. Every request passes through
// ServeHTTP, so w is its statusWriter.
func markRoute(w http.ResponseWriter, ri *routeInfo) {
	if sw, ok := w.(*statusWriter); ok {
		sw.route = ri
	}
}

// markUser tells the request's statusWriter the authenticated caller, for the request log.
func markUser(w http.ResponseWriter, userID string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.userID = userID
	}
}

// requestLevel parses logger.request_level (any case): the level of the request log line, and false for
// off. Anything else, "" included, is debug, the default; config validation refuses other values.
func requestLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "off":
		return 0, false
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelDebug, true
}

// finish records a request that has been answered: its route's metrics, and the request log line, at the
// configured level (raised to warn for a 5xx answer). The line names the route pattern, never the path
// with its query, and carries no header: neither can then leak a token or a key into the log.
func (a *API) finish(rw *statusWriter, r *http.Request, start time.Time) {
	d := time.Since(start)
	status := rw.Status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	ri := rw.route
	if ri == nil {
		ri = a.unmatched
	}
	if ri.observe != nil {
		ri.observe(status, d)
	}
	if !a.reqLog {
		return
	}
	level := a.reqLevel
	if status >= 500 {
		level = max(level, slog.LevelWarn)
	}
	if !a.log.Enabled(r.Context(), level) {
		return
	}
	ip, _ := a.clientAddr(r)
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("route", ri.name), slog.Int("status", status),
		slog.Duration("latency", d), slog.String("client_ip", ip),
	}
	if rw.userID != "" {
		attrs = append(attrs, slog.String("user_id", rw.userID))
	}
	a.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// counted counts the failures of an authenticate route of identity kind; a success is counted by issue,
// which knows whether the account was created.
func (a *API) counted(kind string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err != nil {
			a.obs.Authentication(kind, authOutcome(err))
		}
		return err
	}
}

// authenticated counts a successful authentication of the request's route.
func (a *API) authenticated(r *http.Request, created bool) {
	if a.obs == nil {
		return
	}
	kind, ok := strings.CutPrefix(r.Pattern, authPrefix)
	if !ok {
		return
	}
	outcome := "ok"
	if created {
		outcome = "created"
	}
	a.obs.Authentication(kind, outcome)
}

// authOutcome names why an authentication failed, from the answer the client gets.
func authOutcome(err error) string {
	if errors.Is(err, accounts.ErrHashBusy) {
		return "limited" // answered 503, but refused by the bcrypt queue's bound
	}
	e, known := toWire(err)
	if !known {
		return "error"
	}
	switch e.Code {
	case api.CodeUnauthenticated:
		return "bad_credentials"
	case api.CodePermissionDenied:
		return "banned"
	case api.CodeNotFound:
		return "not_found"
	case api.CodeInvalidArgument, api.CodeAlreadyExists, api.CodeFailedPrecondition:
		return "invalid"
	case api.CodeResourceExhausted:
		return "limited"
	case api.CodeUnavailable, api.CodeDeadlineExceeded, api.CodeCanceled:
		return "unavailable"
	}
	return "error"
}

// Ready reports whether the store can take writes, as GET /readyz does: nil, or why not. Its answer is
// shared with /readyz's and reused for a second.
func (a *API) Ready(ctx context.Context) error { return a.ready.state(ctx) }
