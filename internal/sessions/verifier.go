package sessions

import (
	"context"
	"sync"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Revoked reports whether the session sessionID of the user, created at the account generation gen, has
// ended per this node's denylist: on its own, or by a cut of its account (a logout of every session, a ban,
// a deletion). It is what a join ticket's redemption checks, since a ticket carries those three claims of
// its session token and not the token itself.
func (m *Manager) Revoked(userID, sessionID string, gen int64) bool {
	return m.deny.Denies(tokens.Claims{TokenID: sessionID, UserID: userID, Generation: gen})
}

// RevocationsSince reads the store's revocation feed for verifiers outside the server: at most limit
// entries with a sequence above after that can still end a valid token, in sequence order. Sequence order is
// commit order, so a reader that resumes after the last sequence it saw misses nothing.
func (m *Manager) RevocationsSince(ctx context.Context, after int64, limit int) ([]storage.Revocation, error) {
	return m.store.RevocationsSince(ctx, after, m.clock().UTC(), limit)
}

// RevocationsAdded returns a channel that is closed the next time revocations reach this node's denylist:
// read from the store's feed by Follow or Load, or made by this node itself. Both happen after the entries
// are committed, so a reader of the store's feed woken by it finds them. Take the channel before reading
// the feed, so that an entry committed between the read and the wait is not missed.
func (m *Manager) RevocationsAdded() <-chan struct{} {
	return m.added.wait()
}

// signal is a broadcast that can fire many times: each fire closes the channel the waiters hold, and the
// next wait gets a new one. A fire with no waiter costs a lock and nothing else.
type signal struct {
	mu sync.Mutex
	ch chan struct{} // nil: nobody waits
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
