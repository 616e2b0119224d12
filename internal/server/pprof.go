package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofServer serves Go's runtime profiles (net/http/pprof) on a loopback listener of its own, apart from
// the client API, for debug.pprof_address.
type pprofServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// startPprof listens on addr and serves the profiles until Close. An empty addr means off: it returns nil,
// whose Close does nothing. Config validation admits loopback addresses only; the bound address is checked
// again here, so that a "localhost" resolving elsewhere never exposes the profiles.
func startPprof(addr string, log *slog.Logger) (*pprofServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug.pprof_address: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("debug.pprof_address: %s is bound to %s, which is not a loopback address", addr, ln.Addr())
	}
	p := &pprofServer{
		srv: &http.Server{
			Handler:           pprofMux(),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener stopped", "err", err)
		}
	}()
	log.Info("serving pprof", "addr", ln.Addr().String())
	return p, nil
}

// pprofMux routes /debug/pprof/ to net/http/pprof's handlers on a mux of its own. Importing net/http/pprof
// also registers them on http.DefaultServeMux, which nothing in Latchkey serves.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the index, and every named profile (heap, goroutine, ...)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Addr returns the address the profiles are served on.
func (p *pprofServer) Addr() net.Addr { return p.ln.Addr() }

// Close stops serving, cutting any profile in progress, and waits for the listener's goroutine. It does
// nothing on a nil pprofServer.
func (p *pprofServer) Close() {
	if p == nil {
		return
	}
	p.srv.Close()
	<-p.done
}
