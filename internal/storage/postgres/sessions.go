package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// scanSession reads sessionColumns into s, whose Vars must be nil.
func scanSession(row pgx.Row, s *storage.Session) error {
	var revoke pgtype.Timestamptz
	err := row.Scan(&s.ID, &s.UserID, &s.CreateTime, &s.RefreshTime, &s.ExpireTime, &revoke, &s.RevokeReason,
		&s.RefreshSeq, &s.Vars, &s.UserAgent, &s.ClientIP)
	if err != nil {
		return err
	}
	s.CreateTime, s.RefreshTime, s.ExpireTime = s.CreateTime.UTC(), s.RefreshTime.UTC(), s.ExpireTime.UTC()
	s.RevokeTime = fromOptTime(revoke)
	if len(s.Vars) == 0 {
		s.Vars = nil
	}
	return nil
}

// varsParam is the stored form of session vars: a JSON object, or NULL when there are none.
func varsParam(vars map[string]string) any {
	if len(vars) == 0 {
		return nil
	}
	return vars
}

// CreateSession implements storage.Sessions. The session is stored live whatever its RevokeTime,
// RevokeReason and RefreshSeq say, and a zero RefreshTime is taken to be CreateTime.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	if !isUUID(sess.ID) {
		return fmt.Errorf("postgres: create session: %w", errInvalidID)
	}
	if !isUUID(sess.UserID) {
		return storage.ErrNotFound
	}
	refresh := sess.RefreshTime
	if refresh.IsZero() {
		refresh = sess.CreateTime
	}
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qInsertSession, sess.ID, sess.UserID, msTime(sess.CreateTime), msTime(refresh),
			msTime(sess.ExpireTime), varsParam(sess.Vars), sess.UserAgent, sess.ClientIP)
		return err
	})
	switch {
	case err == nil:
		return nil
	case pgCode(err) == codeForeignKeyViolation:
		return storage.ErrNotFound
	case uniqueConstraint(err) == conSessionsPkey:
		return fmt.Errorf("postgres: create session: id %s exists: %w", sess.ID, storage.ErrConflict)
	}
	return wrap("create session", err)
}

// SessionByID implements storage.Sessions.
func (s *Store) SessionByID(ctx context.Context, id string) (*storage.Session, error) {
	if !isUUID(id) {
		return nil, storage.ErrNotFound
	}
	sess := new(storage.Session)
	err := scanSession(s.pool.QueryRow(ctx, qSessionByID, id), sess)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, wrap("session by id", err)
	}
	return sess, nil
}

// RefreshSession implements storage.Sessions. A session whose ExpireTime is not after r.RefreshTime is no
// longer live and fails with ErrConflict. ExpireTime never moves back: it stays the latest expiry of any
// token of the session even if r.ExpireTime is earlier.
func (s *Store) RefreshSession(ctx context.Context, r storage.SessionRefresh) (*storage.Session, error) {
	if !isUUID(r.ID) {
		return nil, storage.ErrNotFound
	}
	var sess *storage.Session
	err := retry(ctx, func() error {
		sess = new(storage.Session)
		return scanSession(s.pool.QueryRow(ctx, qRefreshSession, msTime(r.RefreshTime), msTime(r.ExpireTime),
			varsParam(r.Vars), r.ID, r.ExpectSeq), sess)
	})
	if err == nil {
		return sess, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("refresh session", err)
	}
	// The compare-and-swap matched nothing: either there is no such session or a precondition failed. The
	// second read costs a round trip only on this rare path.
	switch exists, err := s.sessionExists(ctx, r.ID); {
	case err != nil:
		return nil, wrap("refresh session", err)
	case !exists:
		return nil, storage.ErrNotFound
	}
	return nil, storage.ErrConflict
}

func (s *Store) sessionExists(ctx context.Context, id string) (bool, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, qSessionExists, id).Scan(&exists)
	return exists, err
}

// ExtendSession implements storage.Sessions; ErrNotFound for an unknown id.
func (s *Store) ExtendSession(ctx context.Context, id string, t time.Time) error {
	if !isUUID(id) {
		return storage.ErrNotFound
	}
	return s.execOne(ctx, "extend session", qExtendSession, msTime(t), id)
}

// RevokeSession implements storage.Sessions. The session and its feed entry are written by one statement,
// which also notifies feedChannel.
func (s *Store) RevokeSession(ctx context.Context, id string, reason string, at time.Time) (*storage.Revocation, error) {
	if !isUUID(id) {
		return nil, storage.ErrNotFound
	}
	at = msTime(at)
	rev := &storage.Revocation{SessionID: strings.ToLower(id), RevokeTime: at}
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, qRevokeSession, at, reason, id).Scan(&rev.Seq, &rev.UserID, &rev.ExpireTime)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// Already revoked, or unknown. A session is never un-revoked, so the answer cannot go stale.
		switch exists, err := s.sessionExists(ctx, id); {
		case err != nil:
			return nil, wrap("revoke session", err)
		case !exists:
			return nil, storage.ErrNotFound
		}
		return nil, nil
	}
	if err != nil {
		return nil, wrap("revoke session", err)
	}
	rev.ExpireTime = rev.ExpireTime.UTC()
	return rev, nil
}

// RevokeUserSessions implements storage.Sessions. The feed entries come back in Seq order. Ids in keep that
// are not UUIDs cannot match a session and are ignored.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, keep []string, reason string, at time.Time) ([]storage.Revocation, error) {
	if !isUUID(userID) {
		return nil, nil
	}
	// The keep list travels as one array parameter so that the statement text, and its prepared form, do
	// not depend on how many ids it holds. It must not be nil: `id <> ALL (NULL)` is never true.
	keepIDs := make([]string, 0, len(keep))
	for _, id := range keep {
		if isUUID(id) {
			keepIDs = append(keepIDs, id)
		}
	}
	return s.revokeMany(ctx, "revoke user sessions", qRevokeUserSessions, userID, reason, at, keepIDs)
}

// RevokeOldestSessions implements storage.Sessions. The feed entries come back in Seq order. A newest that
// is not a UUID names no session.
func (s *Store) RevokeOldestSessions(ctx context.Context, userID, newest string, keep int, reason string, at time.Time) ([]storage.Revocation, error) {
	if !isUUID(userID) {
		return nil, nil
	}
	var newestParam any
	if isUUID(newest) {
		newestParam = newest
	}
	return s.revokeMany(ctx, "revoke oldest sessions", qRevokeOldestSessions, userID, reason, at, keep, newestParam)
}

// revokeMany runs a statement ending in revokeTargets, whose arguments are at, reason, userID and then
// args, and returns its feed entries.
func (s *Store) revokeMany(ctx context.Context, op, query, userID, reason string, at time.Time, args ...any) ([]storage.Revocation, error) {
	at = msTime(at)
	var revs []storage.Revocation
	err := retry(ctx, func() error {
		revs = revs[:0]
		rows, err := s.pool.Query(ctx, query, append([]any{at, reason, userID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := storage.Revocation{UserID: strings.ToLower(userID), RevokeTime: at}
			if err := rows.Scan(&r.Seq, &r.SessionID, &r.ExpireTime); err != nil {
				return err
			}
			r.ExpireTime = r.ExpireTime.UTC()
			revs = append(revs, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(revs) == 0 {
		return nil, nil
	}
	return revs, nil
}

// ListUserSessions implements storage.Sessions. Sessions created at the same millisecond are ordered by id
// descending so that the order is stable.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time, after storage.SessionCursor, limit int) ([]storage.Session, error) {
	if !isUUID(userID) || limit < 1 {
		return nil, nil
	}
	var afterID any
	if !after.IsZero() {
		if !isUUID(after.ID) {
			return nil, fmt.Errorf("postgres: list user sessions: cursor: %w", errInvalidID)
		}
		afterID = after.ID
	}
	out, err := queryAll(ctx, s.pool, scanSession, qListUserSession, userID, msTime(now), afterID, msTime(after.CreateTime), limit)
	if err != nil {
		return nil, wrap("list user sessions", err)
	}
	return out, nil
}

// RevocationsSince implements storage.Sessions. A limit below 1 returns nothing.
//
// Seq order is commit order (see latchkey_feed_counter in the migrations), so a reader that resumes after
// the last Seq it saw cannot skip an entry that commits later with a smaller Seq.
func (s *Store) RevocationsSince(ctx context.Context, after int64, now time.Time, limit int) ([]storage.Revocation, error) {
	if limit < 1 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.pool, scanRevocation, qRevocationsSince, after, msTime(now), limit)
	if err != nil {
		return nil, wrap("revocations since", err)
	}
	return out, nil
}

func scanRevocation(row pgx.Row, r *storage.Revocation) error {
	if err := row.Scan(&r.Seq, &r.SessionID, &r.UserID, &r.ExpireTime, &r.RevokeTime); err != nil {
		return err
	}
	r.ExpireTime, r.RevokeTime = r.ExpireTime.UTC(), r.RevokeTime.UTC()
	return nil
}

// deleteBatch bounds how many rows one DELETE removes.
const deleteBatch = 1000

// DeleteExpiredSessions implements storage.Sessions. It removes feed entries whose ExpireTime is before
// `before`, which covers the entries of every removed session: an entry copies its session's ExpireTime
// when the session is revoked, and a revoked session's ExpireTime never decreases afterwards. The sweep is
// batched, so a concurrent reader may see part of it. The feed counter is untouched, so seqs of deleted
// entries are never handed out again.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	before = msTime(before)
	n, err := s.sweep(ctx, qDeleteExpiredSessions, before)
	if err == nil {
		_, err = s.sweep(ctx, qDeleteExpiredRevocations, before)
	}
	if err != nil {
		return n, wrap("delete expired sessions", err)
	}
	return n, nil
}

// sweep runs a batched DELETE, whose arguments are a time and the batch size, until a batch removes fewer
// than deleteBatch rows, and returns how many rows it removed in all.
func (s *Store) sweep(ctx context.Context, query string, t time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := retry(ctx, func() error {
			tag, err := s.pool.Exec(ctx, query, t, deleteBatch)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < deleteBatch {
			return total, nil
		}
	}
}
