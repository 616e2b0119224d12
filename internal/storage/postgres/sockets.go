package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// AddSocket implements storage.Sockets. Its id, user id and session id must be UUIDs.
func (s *Store) AddSocket(ctx context.Context, sock storage.Socket) error {
	for _, id := range []string{sock.ID, sock.UserID, sock.SessionID} {
		if !isUUID(id) {
			return fmt.Errorf("postgres: add socket: %q: %w", id, errInvalidID)
		}
	}
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qAddSocket, sock.ID, sock.UserID, sock.SessionID, sock.Node, msTime(sock.CreateTime))
		return err
	})
	switch {
	case err == nil:
		return nil
	case uniqueConstraint(err) == conSocketsPkey:
		return fmt.Errorf("postgres: add socket: id %s exists: %w", sock.ID, storage.ErrConflict)
	}
	return wrap("add socket", err)
}

// RemoveSocket implements storage.Sockets. An id that is not a UUID names no socket.
func (s *Store) RemoveSocket(ctx context.Context, id string) error {
	if !isUUID(id) {
		return nil
	}
	return s.exec(ctx, "remove socket", qRemoveSocket, id)
}

// UserSockets implements storage.Sockets. Sockets created at the same millisecond are ordered by id so
// that the order is stable. A user id that is not a UUID has no sockets.
func (s *Store) UserSockets(ctx context.Context, userID string, aliveSince time.Time) ([]storage.Socket, error) {
	if !isUUID(userID) {
		return nil, nil
	}
	out, err := queryAll(ctx, s.pool, scanSocket, qUserSockets, userID, msTime(aliveSince))
	if err != nil {
		return nil, wrap("user sockets", err)
	}
	return out, nil
}

func scanSocket(row pgx.Row, sock *storage.Socket) error {
	if err := row.Scan(&sock.ID, &sock.UserID, &sock.SessionID, &sock.Node, &sock.CreateTime); err != nil {
		return err
	}
	sock.CreateTime = sock.CreateTime.UTC()
	return nil
}

// TouchNode implements storage.Sockets. The node's seen time becomes t even if it was later.
func (s *Store) TouchNode(ctx context.Context, node string, t time.Time) error {
	return s.exec(ctx, "touch node", qTouchNode, node, msTime(t))
}

// RemoveNode implements storage.Sockets. The node and its sockets go in one statement.
func (s *Store) RemoveNode(ctx context.Context, node string) (int, error) {
	return s.count(ctx, "remove node", qRemoveNode, node)
}

// RemoveDeadNodes implements storage.Sockets. The nodes and their sockets go in one statement, which also
// removes the sockets created before t on nodes that have no row at all (see qRemoveDeadNodes).
func (s *Store) RemoveDeadNodes(ctx context.Context, t time.Time) (int, error) {
	return s.count(ctx, "remove dead nodes", qRemoveDeadNodes, msTime(t))
}

// AppendSocketCommand implements storage.Sockets. The command is one statement, which also notifies
// socketChannel. A socket id or user id that is neither empty nor a UUID fails it before anything is sent.
func (s *Store) AppendSocketCommand(ctx context.Context, c storage.SocketCommand) (int64, error) {
	for _, id := range []string{c.SocketID, c.UserID} {
		if id != "" && !isUUID(id) {
			return 0, fmt.Errorf("postgres: append socket command: %q: %w", id, errInvalidID)
		}
	}
	var seq int64
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, qAppendSocketCommand, string(c.Kind), c.SocketID, c.UserID, c.Reason,
			msTime(c.Time)).Scan(&seq)
	})
	if err != nil {
		return 0, wrap("append socket command", err)
	}
	return seq, nil
}

// SocketCommandsSince implements storage.Sockets. A limit below 1 returns nothing.
//
// Seq order is commit order (see socket_command_counter in the migrations), so a reader that resumes after
// the last Seq it saw cannot skip a command that commits later with a smaller Seq.
func (s *Store) SocketCommandsSince(ctx context.Context, after int64, limit int) ([]storage.SocketCommand, error) {
	if limit < 1 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.pool, scanSocketCommand, qSocketCommandsSince, after, limit)
	if err != nil {
		return nil, wrap("socket commands since", err)
	}
	return out, nil
}

func scanSocketCommand(row pgx.Row, c *storage.SocketCommand) error {
	if err := row.Scan(&c.Seq, &c.Kind, &c.SocketID, &c.UserID, &c.Reason, &c.Time); err != nil {
		return err
	}
	c.Time = c.Time.UTC()
	return nil
}

// LastSocketCommandSeq implements storage.Sockets. It reads the counter, which only grows, so it counts
// deleted commands too; every command up to it has committed.
func (s *Store) LastSocketCommandSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, qLastSocketCommandSeq).Scan(&seq); err != nil {
		return 0, wrap("last socket command seq", err)
	}
	return seq, nil
}

// DeleteSocketCommandsBefore implements storage.Sockets. The sweep is batched like DeleteExpiredSessions,
// so a concurrent reader may see part of it. The counter is untouched, so seqs of deleted commands are
// never handed out again.
func (s *Store) DeleteSocketCommandsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteSocketCommandsBefore, msTime(t))
	if err != nil {
		return n, wrap("delete socket commands", err)
	}
	return n, nil
}

// exec runs a write whose outcome needs no checking.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) error {
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// count runs a write that returns one count.
func (s *Store) count(ctx context.Context, op, query string, args ...any) (int, error) {
	var n int
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}
