package server

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// startTickets builds the join-ticket service (tickets.*) on the node's store, refusing the tickets of
// sessions the denylist has ended, and reads or makes its signing keys.
func (s *Server) startTickets(ctx context.Context, c config.TicketsConfig, clock func() time.Time) error {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	deny := s.Sessions.Denylist()
	s.Tickets = tickets.New(tickets.Config{
		Algorithm: c.Algorithm, TTL: sec(c.TTLSec), MaxTTL: sec(c.MaxTTLSec), Vars: c.Vars, Issuer: c.Issuer,
		Rotation: sec(c.KeyRotationSec),
	}, tickets.Deps{Store: s.store, Clock: clock, Logger: s.log,
		Revoked: func(userID, sessionID string, gen int64) bool {
			return deny.Denies(tokens.Claims{TokenID: sessionID, UserID: userID, Generation: gen})
		}})
	if err := s.Tickets.Load(ctx); err != nil {
		return fmt.Errorf("loading join-ticket keys: %w", err)
	}
	return nil
}
