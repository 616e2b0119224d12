package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// AddSocket implements storage.Sockets.
func (s *Store) AddSocket(ctx context.Context, sock storage.Socket) error {
	err := s.exec(ctx, qAddSocket, sock.ID, sock.UserID, sock.SessionID, sock.Node, sock.CreateTime.UnixMilli())
	switch {
	case err == nil:
		return nil
	case uniqueColumn(err) == "sockets.id":
		return fmt.Errorf("sqlite: add socket: id %s exists: %w", sock.ID, storage.ErrConflict)
	}
	return s.wrap("add socket", err)
}

// RemoveSocket implements storage.Sockets.
func (s *Store) RemoveSocket(ctx context.Context, id string) error {
	if err := s.exec(ctx, qRemoveSocket, id); err != nil {
		return s.wrap("remove socket", err)
	}
	return nil
}

// UserSockets implements storage.Sockets. Sockets created at the same millisecond are ordered by id so
// that the order is stable.
func (s *Store) UserSockets(ctx context.Context, userID string, aliveSince time.Time) ([]storage.Socket, error) {
	out, err := queryAll(ctx, s.read.stmt(ctx, qUserSockets), scanSocket, userID, aliveSince.UnixMilli())
	if err != nil {
		return nil, s.wrap("user sockets", err)
	}
	return out, nil
}

func scanSocket(row rowScanner, sock *storage.Socket) error {
	var created int64
	if err := row.Scan(&sock.ID, &sock.UserID, &sock.SessionID, &sock.Node, &created); err != nil {
		return err
	}
	sock.CreateTime = fromMillis(created)
	return nil
}

// TouchNode implements storage.Sockets. The node's seen time becomes t even if it was later.
func (s *Store) TouchNode(ctx context.Context, node string, t time.Time) error {
	if err := s.exec(ctx, qTouchNode, node, t.UnixMilli()); err != nil {
		return s.wrap("touch node", err)
	}
	return nil
}

// RemoveNode implements storage.Sockets. The node and its sockets go in one transaction.
func (s *Store) RemoveNode(ctx context.Context, node string) (int, error) {
	sockets, _, err := s.removeNodes(ctx, qRemoveNodeSockets, qRemoveNode, node)
	if err != nil {
		return 0, s.wrap("remove node", err)
	}
	return sockets, nil
}

// RemoveDeadNodes implements storage.Sockets. The nodes and their sockets go in one transaction. It also
// removes the sockets created before t on nodes that have no row at all: a node removed as dead may have
// registered them afterwards, and they would otherwise stay forever if it is never seen again.
func (s *Store) RemoveDeadNodes(ctx context.Context, t time.Time) (int, error) {
	_, nodes, err := s.removeNodes(ctx, qRemoveDeadNodeSockets, qRemoveDeadNodes, t.UnixMilli())
	if err != nil {
		return 0, s.wrap("remove dead nodes", err)
	}
	return nodes, nil
}

// removeNodes runs a statement that deletes sockets, then one that deletes their nodes, both with the one
// argument, in one write transaction, and returns how many rows each deleted.
func (s *Store) removeNodes(ctx context.Context, socketsQuery, nodesQuery stmtID, arg any) (sockets, nodes int, err error) {
	var counts [2]int
	err = s.commit.write(ctx, func(w *wtx) error {
		for i, id := range []stmtID{socketsQuery, nodesQuery} {
			res, err := w.stmt(id).ExecContext(w.ctx, arg)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			counts[i] = int(n)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return counts[0], counts[1], nil
}

// AppendSocketCommand implements storage.Sockets.
func (s *Store) AppendSocketCommand(ctx context.Context, c storage.SocketCommand) (int64, error) {
	var seq int64
	err := s.commit.write(ctx, func(w *wtx) error {
		return w.stmt(qAppendSocketCommand).QueryRowContext(w.ctx, string(c.Kind), c.SocketID, c.UserID,
			c.Reason, c.Time.UnixMilli()).Scan(&seq)
	})
	if err != nil {
		return 0, s.wrap("append socket command", err)
	}
	return seq, nil
}

// SocketCommandsSince implements storage.Sockets. A limit below 1 returns nothing.
//
// Seq order is commit order because SQLite has a single writer, so a reader that resumes after the last
// Seq it saw cannot skip a command that commits later with a smaller Seq.
func (s *Store) SocketCommandsSince(ctx context.Context, after int64, limit int) ([]storage.SocketCommand, error) {
	if limit < 1 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.read.stmt(ctx, qSocketCommandsSince), scanSocketCommand, after, limit)
	if err != nil {
		return nil, s.wrap("socket commands since", err)
	}
	return out, nil
}

func scanSocketCommand(row rowScanner, c *storage.SocketCommand) error {
	var at int64
	if err := row.Scan(&c.Seq, &c.Kind, &c.SocketID, &c.UserID, &c.Reason, &at); err != nil {
		return err
	}
	c.Time = fromMillis(at)
	return nil
}

// LastSocketCommandSeq implements storage.Sockets.
func (s *Store) LastSocketCommandSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.read.stmt(ctx, qLastSocketCommandSeq).QueryRowContext(ctx).Scan(&seq); err != nil {
		return 0, s.wrap("last socket command seq", err)
	}
	return seq, nil
}

// DeleteSocketCommandsBefore implements storage.Sockets. The sweep is batched like DeleteExpiredSessions,
// so a concurrent reader may see part of it.
func (s *Store) DeleteSocketCommandsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.sweep(ctx, qDeleteSocketCommandsBefore, t.UnixMilli())
	if err != nil {
		return n, s.wrap("delete socket commands", err)
	}
	return n, nil
}
