package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/adminapi"
)

// AdminAPI returns the admin API over this server's services, as the admin listener serves it.
func (s *Server) AdminAPI() *adminapi.API {
	return adminapi.New(adminapi.Deps{Accounts: s.Accounts, Sessions: s.Sessions, Key: s.cfg.Admin.Key, Logger: s.log})
}

// adminServer is the admin API's listener, apart from the client API's.
type adminServer struct {
	srv  *http.Server
	done chan struct{}
}

// startAdmin serves the admin API on admin.address:admin.port until Close, when admin.key is set; without
// a key it returns nil, whose Close does nothing.
func (s *Server) startAdmin() (*adminServer, error) {
	a := s.cfg.Admin
	if a.Key == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.Address, strconv.Itoa(a.Port)))
	if err != nil {
		return nil, fmt.Errorf("admin API (admin.address, admin.port): %w", err)
	}
	p := &adminServer{
		srv: &http.Server{
			Handler:           s.AdminAPI(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       adminapi.DefaultTimeout,
			WriteTimeout:      adminapi.DefaultTimeout + 5*time.Second, // the request deadline comes first
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin API listener stopped", "err", err)
		}
	}()
	s.log.Info("admin API listening", "addr", ln.Addr().String())
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		s.log.Warn("admin API listens beyond loopback: anyone who can reach it and has the admin key can ban and delete accounts",
			"addr", ln.Addr().String())
	}
	return p, nil
}

// Close lets admin requests in flight finish for up to five seconds, then cuts them, and waits for the
// listener's goroutine. It does nothing on a nil adminServer.
func (p *adminServer) Close() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.srv.Shutdown(ctx) != nil {
		p.srv.Close()
	}
	<-p.done
}
