package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// AppendEvents implements storage.Events. The events are one statement, so one round trip and one
// transaction whatever their number, and take increasing ids in the order given; no events means no round
// trip at all. A user id, or a non-empty session id, that is not a UUID fails the whole append before
// anything is sent: callers only ever pass the ids of real accounts and sessions.
func (s *Store) AppendEvents(ctx context.Context, evs ...storage.Event) error {
	if len(evs) == 0 {
		return nil
	}
	c, err := newEventColumns(evs)
	if err != nil {
		return fmt.Errorf("postgres: append events: %w", err)
	}
	err = retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qAppendEvents, c.times, c.kinds, c.users, c.sessions, c.ips, c.reasons)
		return err
	})
	if err != nil {
		return wrap("append events", err)
	}
	return nil
}

// eventColumns holds events as the arrays qAppendEvents and qStartSession take, one per column.
type eventColumns struct {
	times                                []time.Time
	kinds, users, sessions, ips, reasons []string
}

// newEventColumns checks the events' ids and lays them out by column. A user id, or a non-empty session id,
// that is not a UUID is an error: callers only ever pass the ids of real accounts and sessions.
func newEventColumns(evs []storage.Event) (eventColumns, error) {
	c := eventColumns{
		times: make([]time.Time, len(evs)), kinds: make([]string, len(evs)), users: make([]string, len(evs)),
		sessions: make([]string, len(evs)), ips: make([]string, len(evs)), reasons: make([]string, len(evs)),
	}
	for i, ev := range evs {
		if !isUUID(ev.UserID) {
			return c, fmt.Errorf("event %d: user id: %w", i, errInvalidID)
		}
		if ev.SessionID != "" && !isUUID(ev.SessionID) {
			return c, fmt.Errorf("event %d: session id: %w", i, errInvalidID)
		}
		c.times[i], c.kinds[i], c.users[i], c.sessions[i] = msTime(ev.Time), string(ev.Kind), ev.UserID, ev.SessionID
		c.ips[i], c.reasons[i] = ev.ClientIP, ev.Reason
	}
	return c, nil
}

// ListEvents implements storage.Events. A user id that is not a UUID has no events. A limit below 1 is an
// error: the page size is the caller's policy, and a caller that forgot to set one should find out rather
// than get an empty page.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	if limit < 1 {
		return nil, fmt.Errorf("postgres: list events: limit %d is not positive", limit)
	}
	if !isUUID(userID) {
		return nil, nil
	}
	// A single `id < $2` bound, rather than a condition on before, keeps the statement a plain range scan
	// of the (user_id, id) index, whatever plan the prepared statement settles on.
	if before <= 0 {
		before = math.MaxInt64
	}
	out, err := queryAll(ctx, s.pool, scanEvent, qListEvents, userID, before, limit)
	if err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}

func scanEvent(row pgx.Row, ev *storage.Event) error {
	if err := row.Scan(&ev.ID, &ev.Time, &ev.Kind, &ev.UserID, &ev.SessionID, &ev.ClientIP, &ev.Reason); err != nil {
		return err
	}
	ev.Time = ev.Time.UTC()
	return nil
}

// DeleteEventsBefore implements storage.Events. The sweep is batched like DeleteExpiredSessions, so a
// concurrent reader may see part of it.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteEventsBefore, msTime(t))
	if err != nil {
		return n, wrap("delete events", err)
	}
	return n, nil
}
