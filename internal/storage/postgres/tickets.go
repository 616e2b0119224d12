package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// TicketKeys implements storage.Tickets.
func (s *Store) TicketKeys(ctx context.Context) ([]storage.TicketKey, error) {
	out, err := queryAll(ctx, s.pool, scanTicketKey, qTicketKeys)
	if err != nil {
		return nil, wrap("ticket keys", err)
	}
	return out, nil
}

func scanTicketKey(row pgx.Row, k *storage.TicketKey) error {
	if err := row.Scan(&k.ID, &k.Algorithm, &k.Private, &k.Public, &k.CreateTime); err != nil {
		return err
	}
	k.CreateTime = k.CreateTime.UTC()
	return nil
}

// AddTicketKey implements storage.Tickets.
func (s *Store) AddTicketKey(ctx context.Context, k storage.TicketKey) error {
	return s.insertNew(ctx, "add ticket key", k.ID, qAddTicketKey, k.ID, k.Algorithm, k.Private, k.Public, msTime(k.CreateTime))
}

// DeleteTicketKeysBefore implements storage.Tickets. A store holds a handful of keys, so it is one
// statement.
func (s *Store) DeleteTicketKeysBefore(ctx context.Context, t time.Time) (int, error) {
	var n int64
	err := retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, qDeleteTicketKeysBefore, msTime(t))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrap("delete ticket keys", err)
	}
	return int(n), nil
}

// RedeemTicket implements storage.Tickets.
func (s *Store) RedeemTicket(ctx context.Context, id string, expire time.Time) error {
	return s.insertNew(ctx, "redeem ticket", id, qRedeemTicket, id, msTime(expire))
}

// DeleteRedeemedTicketsBefore implements storage.Tickets, batched like DeleteExpiredSessions.
func (s *Store) DeleteRedeemedTicketsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteRedeemedTicketsBefore, msTime(t))
	if err != nil {
		return n, wrap("delete redeemed tickets", err)
	}
	return n, nil
}

// insertNew runs an INSERT ... ON CONFLICT DO NOTHING of the row with this id, and returns ErrConflict
// when it inserted nothing because the id exists.
func (s *Store) insertNew(ctx context.Context, op, id, query string, args ...any) error {
	var n int64
	err := retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return wrap(op, err)
	case n == 0:
		return fmt.Errorf("postgres: %s: %s exists: %w", op, id, storage.ErrConflict)
	}
	return nil
}
