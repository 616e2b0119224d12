package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/metrics"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// The observers internal/metrics provides.
var (
	_ accounts.Observer = (*metrics.Metrics)(nil)
	_ sessions.Observer = (*metrics.Metrics)(nil)
	_ httpapi.Observer  = (*metrics.Metrics)(nil)
	_ storage.Observer  = (*metrics.Metrics)(nil)
)

// newMetrics returns the metrics when metrics.prometheus_port is set, else nil: then nothing is measured.
func newMetrics(cfg config.Config, version string) *metrics.Metrics {
	if cfg.Metrics.PrometheusPort == 0 {
		return nil
	}
	return metrics.New(metrics.Config{Prefix: cfg.Metrics.Prefix, Version: version})
}

// observer is m as the observer interface T a service's Deps take, or T's nil when m is nil, so that a
// service with metrics off is given no observer at all rather than a nil *Metrics in an interface.
func observer[T any](m *metrics.Metrics) T {
	var o T
	if m != nil {
		o = any(m).(T)
	}
	return o
}

// observeStore returns st with its calls timed when m is set.
func observeStore(st Backend, m *metrics.Metrics) Backend {
	return storage.Observe(st, observer[storage.Observer](m))
}

// feedMaxAge bounds how long ago a ready node last read the revocation feed to its end: six of its polls
// (feedPollInterval), so that one slow read does not take the node out of rotation, while a feed that
// fails or hangs for three seconds does, since the node may then be accepting tokens revoked elsewhere.
const feedMaxAge = 3 * time.Second

// instrument registers the gauges read at each scrape. It does nothing when metrics are off.
func (s *Server) instrument(m *metrics.Metrics) {
	s.metrics = m
	if m == nil {
		return
	}
	deny := s.Sessions.Denylist()
	m.GaugeFunc("denylist_entries", "Revoked sessions and account cuts this node's denylist holds.",
		func() float64 { return float64(deny.Len()) })
	m.GaugeFunc("realtime_sockets", "Realtime sockets open on this node.",
		func() float64 { return float64(s.Realtime.Len()) })
	m.GaugeFunc("revocation_feed_age_seconds", "Time since this node last read the revocation feed to its end.",
		func() float64 { return time.Since(s.Sessions.FeedReadAt()).Seconds() })
}

// opsServer serves /metrics, /livez and /readyz on the metrics listener (metrics.address and
// metrics.prometheus_port), apart from the client API.
type opsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// opsRoutes is every route of the metrics listener; the client API's table is httpapi's.
func (s *Server) opsRoutes(serving context.Context) []struct {
	pattern string
	h       http.HandlerFunc
} {
	return []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /metrics", s.metrics.Handler().ServeHTTP},
		{"GET /livez", func(w http.ResponseWriter, r *http.Request) { writeOps(w, http.StatusOK, struct{}{}) }},
		{"GET /readyz", func(w http.ResponseWriter, r *http.Request) { s.readyz(serving, w, r) }},
	}
}

// startOps listens on the metrics address and serves the ops routes until Close; serving is Serve's
// context, whose end /readyz reports as a shutdown. With metrics off it returns nil, whose Close does
// nothing.
func (s *Server) startOps(serving context.Context) (*opsServer, error) {
	if s.metrics == nil {
		return nil, nil
	}
	addr := net.JoinHostPort(s.cfg.Metrics.Address, strconv.Itoa(s.cfg.Metrics.PrometheusPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.prometheus_port: %w", err)
	}
	mux := http.NewServeMux()
	for _, rt := range s.opsRoutes(serving) {
		mux.Handle(rt.pattern, rt.h)
	}
	o := &opsServer{
		srv: &http.Server{
			Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(o.done)
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "err", err)
		}
	}()
	s.log.Info("serving metrics and health checks", "addr", ln.Addr().String())
	return o, nil
}

// Addr returns the address the ops routes are served on.
func (o *opsServer) Addr() net.Addr { return o.ln.Addr() }

// Close stops serving and waits for the listener's goroutine. It does nothing on a nil opsServer.
func (o *opsServer) Close() {
	if o == nil {
		return
	}
	o.srv.Close()
	<-o.done
}

// readyBody is /readyz's answer on the metrics listener.
type readyBody struct {
	Status string `json:"status"` // "ready" or "not ready"
	// Failed names the checks that failed: store, feed, shutdown.
	Failed []string `json:"failed,omitempty"`
	Store  string   `json:"store"` // "ok", or "cannot take writes"
	Feed   string   `json:"feed"`  // "ok", or "stale"
	// FeedAgeSeconds is how long ago the node last read the revocation feed to its end.
	FeedAgeSeconds float64 `json:"feed_age_seconds"`
}

// readyz answers 200 while the node can serve: the store takes writes (the client API's probe, whose
// answer is reused for a second), the revocation feed was read within feedMaxAge, and the node is not
// shutting down. Otherwise 503, with the checks that failed; the store's error goes to the log, not here.
func (s *Server) readyz(serving context.Context, w http.ResponseWriter, r *http.Request) {
	b := readyBody{Status: "ready", Store: "ok", Feed: "ok"}
	if err := s.API.Ready(r.Context()); err != nil {
		b.Store = "cannot take writes"
		b.Failed = append(b.Failed, "store")
	}
	age := time.Since(s.Sessions.FeedReadAt())
	b.FeedAgeSeconds = age.Round(time.Millisecond).Seconds()
	if age > feedMaxAge {
		b.Feed = "stale"
		b.Failed = append(b.Failed, "feed")
	}
	if serving.Err() != nil {
		b.Failed = append(b.Failed, "shutdown")
	}
	status := http.StatusOK
	if len(b.Failed) > 0 {
		b.Status, status = "not ready", http.StatusServiceUnavailable
	}
	writeOps(w, status, b)
}

func writeOps(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
