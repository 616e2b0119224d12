package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// TicketKeys implements storage.Tickets.
func (s *Store) TicketKeys(ctx context.Context) ([]storage.TicketKey, error) {
	out, err := queryAll(ctx, s.read.stmt(ctx, qTicketKeys), scanTicketKey)
	if err != nil {
		return nil, s.wrap("ticket keys", err)
	}
	return out, nil
}

func scanTicketKey(row rowScanner, k *storage.TicketKey) error {
	var created int64
	if err := row.Scan(&k.ID, &k.Algorithm, &k.Private, &k.Public, &created); err != nil {
		return err
	}
	k.CreateTime = fromMillis(created)
	return nil
}

// AddTicketKey implements storage.Tickets.
func (s *Store) AddTicketKey(ctx context.Context, k storage.TicketKey) error {
	return s.insertNew(ctx, "add ticket key", k.ID, qAddTicketKey, k.ID, k.Algorithm, k.Private, k.Public, k.CreateTime.UnixMilli())
}

// DeleteTicketKeysBefore implements storage.Tickets. A store holds a handful of keys, so it is one
// statement.
func (s *Store) DeleteTicketKeysBefore(ctx context.Context, t time.Time) (int, error) {
	var n int64
	err := s.commit.write(ctx, func(w *wtx) error {
		res, err := w.stmt(qDeleteTicketKeysBefore).ExecContext(w.ctx, t.UnixMilli())
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, s.wrap("delete ticket keys", err)
	}
	return int(n), nil
}

// RedeemTicket implements storage.Tickets. The single writer orders concurrent redemptions of one id: the
// first inserts the row, and every later one, in the same batch or not, finds it.
func (s *Store) RedeemTicket(ctx context.Context, id string, expire time.Time) error {
	return s.insertNew(ctx, "redeem ticket", id, qRedeemTicket, id, expire.UnixMilli())
}

// DeleteRedeemedTicketsBefore implements storage.Tickets, batched like DeleteExpiredSessions.
func (s *Store) DeleteRedeemedTicketsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteRedeemedTicketsBefore, t.UnixMilli())
	if err != nil {
		return n, s.wrap("delete redeemed tickets", err)
	}
	return n, nil
}

// insertNew runs an INSERT ... ON CONFLICT DO NOTHING of the row with this id, and returns ErrConflict
// when it inserted nothing because the id exists.
func (s *Store) insertNew(ctx context.Context, op, id string, stmt stmtID, args ...any) error {
	err := s.commit.write(ctx, func(w *wtx) error {
		res, err := w.stmt(stmt).ExecContext(w.ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return storage.ErrConflict
		}
		return err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrConflict):
		return fmt.Errorf("sqlite: %s: %s exists: %w", op, id, storage.ErrConflict)
	}
	return s.wrap(op, err)
}
