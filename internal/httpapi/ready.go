package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/api"
)

// readyTTL is how long GET /readyz reuses an answer: it runs at most one write probe per interval however
// often it is called, so that it cannot be used to load the store.
const readyTTL = time.Second

// readyTimeout bounds one probe. A store that cannot commit a tiny write this quickly (its lock held by
// another process, its write connection queued behind a stuck write) is not ready either.
const readyTimeout = 2 * time.Second

// readiness answers GET /readyz from the store's write probe, cached for readyTTL.
type readiness struct {
	check func(context.Context) error // nil: always ready
	clock func() time.Time
	log   *slog.Logger

	// mu is held during a probe, so that requests arriving meanwhile wait for it and share its answer.
	mu  sync.Mutex
	at  time.Time // when err was found; zero before the first probe
	err error
}

// state returns nil when the store can take writes, or why not.
func (r *readiness) state(ctx context.Context) error {
	if r.check == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if age := r.clock().Sub(r.at); !r.at.IsZero() && age >= 0 && age < readyTTL {
		return r.err
	}
	// The probe is not the caller's: a client that goes away does not cut it short for the others.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	err := r.check(pctx)
	cancel()
	switch {
	case err != nil && (r.err == nil || r.at.IsZero()):
		r.log.Warn("not ready: the store cannot take writes", "err", err)
	case err == nil && r.err != nil:
		r.log.Info("ready: the store takes writes again")
	}
	r.at, r.err = r.clock(), err
	return err
}

// readyz is Latchkey's readiness check: 200 while the store can take writes, 503 (code 14, with
// Retry-After) while it cannot, so that a load balancer sends logins elsewhere. Nakama's /healthcheck stays
// a liveness check that never touches the store.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := a.ready.state(r.Context()); err != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable, Message: "Not ready: the store cannot take writes."})
		return nil
	}
	writeJSON(w, http.StatusOK, api.Empty{})
	return nil
}
