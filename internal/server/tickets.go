package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tickets"
)

// newTickets builds the join-ticket service from the tickets.* settings. A ticket's session has ended
// when the sessions denylist (fed by the revocation feed) denies its tokens.
func newTickets(cfg config.TicketsConfig, st storage.Tickets, sess *sessions.Manager, clock func() time.Time, log *slog.Logger) *tickets.Service {
	sec := func(v int) time.Duration { return time.Duration(v) * time.Second }
	return tickets.New(tickets.Config{
		Algorithm: cfg.Algorithm, TTL: sec(cfg.TTLSec), MaxTTL: sec(cfg.MaxTTLSec), Vars: cfg.Vars, Issuer: cfg.Issuer,
		Rotation: sec(cfg.KeyRotationSec),
	}, tickets.Deps{Store: st, Clock: clock, Logger: log, Revoked: sess.Revoked})
}

// runTickets keeps the ticket keys fresh (and rotates them) until ctx ends; the function it returns waits
// for that to stop, so that the store is not closed under it.
func (s *Server) runTickets(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Tickets.Run(ctx)
	}()
	return func() { <-done }
}
