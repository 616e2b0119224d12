// Package adminapi provides Latchkey's admin HTTP API: account lookup, session listing and ending, bans
// and account deletion for operators' tools, on a listener of its own, behind one admin key.
//
// It calls the same service methods as server code's functions (UsersBanId, AccountDeleteId, ...) and the
// `latchkey users` and `latchkey sessions` commands, so that every path writes the same security events and
// has the same effect on running nodes.
package adminapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"

	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/sessions"
)

// Defaults of Deps.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 16 << 10
)

// Deps are the admin API's collaborators and settings.
type Deps struct {
	Accounts *accounts.Service
	Sessions *sessions.Manager
	// Key is what callers send as `Authorization: Bearer KEY` (admin.key). An empty key refuses every
	// request.
	Key    string
	Logger *slog.Logger
	// Timeout is each request's deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes caps a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// API is the admin API's handler.
type API struct {
	accounts *accounts.Service
	sessions *sessions.Manager
	// keyHash is the key's SHA-256: comparing digests of equal length keeps the comparison's time
	// independent of both the key and the length of what a caller sends.
	keyHash  [sha256.Size]byte
	keyEmpty bool
	log      *slog.Logger
	timeout  time.Duration
	maxBody  int64
	mux      *http.ServeMux
}

// New returns the admin API.
func New(d Deps) *API {
	a := &API{
		accounts: d.Accounts, sessions: d.Sessions, keyHash: sha256.Sum256([]byte(d.Key)), keyEmpty: d.Key == "",
		log: d.Logger, timeout: d.Timeout, maxBody: d.MaxBodyBytes, mux: http.NewServeMux(),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	a.mount()
	return a
}

// ServeHTTP checks the admin key, then routes with a deadline, a body cap and panic recovery. Every
// request is authenticated before routing, so that an unauthenticated caller learns nothing of the routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &httpapi.StatusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			httpapi.Recovered(p, a.log, "admin API: panic serving request", rw, r, func() { a.writeError(rw, r, errInternalPanic) })
		}
		// The query string is never logged: it names players (email, device id).
		a.log.Debug("admin API request", "method", r.Method, "path", r.URL.Path, "status", rw.Status, "duration", time.Since(start))
	}()
	if err := a.checkKey(r); err != nil {
		a.log.Warn("admin API: request refused", "method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr, "err", err)
		a.writeError(rw, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody) // w, which closes the connection after an oversized body
	a.mux.ServeHTTP(rw, r)
}

// checkKey accepts exactly one `Authorization: Bearer KEY` header with the admin key.
func (a *API) checkKey(r *http.Request) error {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return errKeyRequired
	}
	const prefix = "Bearer "
	h := vals[0]
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return errKeyRequired
	}
	got := sha256.Sum256([]byte(h[len(prefix):]))
	if a.keyEmpty || subtle.ConstantTimeCompare(got[:], a.keyHash[:]) != 1 {
		return errKeyInvalid
	}
	return nil
}
