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
	tx, st, err := s.begin(ctx, qInsertEvent)
	if err != nil {
		return fmt.Errorf("sqlite: append events: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	for i := range evs {
		ev := &evs[i]
		_, err := st[0].ExecContext(ctx, ev.Time.UnixMilli(), string(ev.Kind), ev.UserID, ev.SessionID, ev.ClientIP, ev.Reason)
		if err != nil {
			return fmt.Errorf("sqlite: append events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: append events: %w", err)
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
	rows, err := s.read.stmt(ctx, qListEvents).QueryContext(ctx, userID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []storage.Event
	for rows.Next() {
		var ev storage.Event
		var at int64
		if err := rows.Scan(&ev.ID, &at, &ev.Kind, &ev.UserID, &ev.SessionID, &ev.ClientIP, &ev.Reason); err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		ev.Time = fromMillis(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return out, nil
}

// DeleteEventsBefore implements storage.Events. The sweep is batched like DeleteExpiredSessions, so a
// concurrent reader may see part of it.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	ms := t.UnixMilli()
	total := 0
	for {
		res, err := s.write.stmt(ctx, qDeleteEventsBefore).ExecContext(ctx, ms, deleteBatch)
		if err != nil {
			return total, fmt.Errorf("sqlite: delete events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: delete events: %w", err)
		}
		total += int(n)
		if n < deleteBatch {
			return total, nil
		}
	}
}
