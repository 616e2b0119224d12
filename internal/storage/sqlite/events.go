package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// AppendEvents implements storage.Events. The events are inserted in order in one write transaction, so
// they take increasing ids in the order given; no events means no transaction at all.
func (s *Store) AppendEvents(ctx context.Context, evs ...storage.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := s.commit.write(ctx, func(w *wtx) error { return appendEvents(w, evs) }); err != nil {
		return s.wrap("append events", err)
	}
	return nil
}

// ListEvents implements storage.Events. A limit below 1 is an error: the page size is the caller's policy,
// and a caller that forgot to set one should find out rather than get an empty page.
func (s *Store) ListEvents(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sqlite: list events: limit %d is not positive", limit)
	}
	// A single `id < ?` bound, rather than a condition on before, keeps the statement a plain range scan
	// of the (user_id, id) index.
	if before <= 0 {
		before = math.MaxInt64
	}
	out, err := queryAll(ctx, s.read.stmt(ctx, qListEvents), scanEvent, userID, before, limit)
	if err != nil {
		return nil, s.wrap("list events", err)
	}
	return out, nil
}

func scanEvent(row rowScanner, ev *storage.Event) error {
	var at int64
	if err := row.Scan(&ev.ID, &at, &ev.Kind, &ev.UserID, &ev.SessionID, &ev.ClientIP, &ev.Reason); err != nil {
		return err
	}
	ev.Time = fromMillis(at)
	return nil
}

// DeleteEventsBefore implements storage.Events. The sweep is batched like DeleteExpiredSessions, so a
// concurrent reader may see part of it.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteEventsBefore, t.UnixMilli())
	if err != nil {
		return n, s.wrap("delete events", err)
	}
	return n, nil
}

// appendEvents inserts evs in order inside an operation.
func appendEvents(w *wtx, evs []storage.Event) error {
	if len(evs) == 0 {
		return nil
	}
	insert := w.stmt(qInsertEvent)
	for i := range evs {
		ev := &evs[i]
		_, err := insert.ExecContext(w.ctx, ev.Time.UnixMilli(), string(ev.Kind), ev.UserID, ev.SessionID, ev.ClientIP, ev.Reason)
		if err != nil {
			return err
		}
	}
	return nil
}
