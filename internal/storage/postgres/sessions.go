package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// scanSession reads sessionColumns into s, whose Vars must be nil.
func scanSession(row pgx.Row, s *storage.Session) error {
	var revoke pgtype.Timestamptz
	err := row.Scan(&s.ID, &s.UserID, &s.CreateTime, &s.RefreshTime, &s.ExpireTime, &revoke, &s.RevokeReason,
		&s.RefreshSeq, &s.Vars, &s.UserAgent, &s.ClientIP, &s.Generation)
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
// RevokeReason, RefreshSeq and Generation say, and a zero RefreshTime is taken to be CreateTime. It waits
// for a cut of the account in progress, and holds off the next one until it commits (see the account's
// share lock in queries.go).
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) (int64, error) {
	if !isUUID(sess.ID) {
		return 0, fmt.Errorf("postgres: create session: %w", errInvalidID)
	}
	if !isUUID(sess.UserID) {
		return 0, storage.ErrNotFound
	}
	refresh := sess.RefreshTime
	if refresh.IsZero() {
		refresh = sess.CreateTime
	}
	var gen int64
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, qInsertSession, sess.ID, sess.UserID, msTime(sess.CreateTime), msTime(refresh),
			msTime(sess.ExpireTime), varsParam(sess.Vars), sess.UserAgent, sess.ClientIP).Scan(&gen)
	})
	switch {
	case err == nil:
		return gen, nil
	case errors.Is(err, pgx.ErrNoRows), pgCode(err) == codeForeignKeyViolation:
		// No account to lock, or (were it deleted between the lock and the insert, which the share lock
		// rules out) none for the foreign key.
		return 0, storage.ErrNotFound
	case uniqueConstraint(err) == conSessionsPkey:
		return 0, fmt.Errorf("postgres: create session: id %s exists: %w", sess.ID, storage.ErrConflict)
	}
	return 0, wrap("create session", err)
}

// StartSession implements storage.Sessions. The session is stored as CreateSession stores it, the cap (when
// st.MaxLive is positive) revokes as RevokeOldestSessions(ctx, userID, Session.ID, MaxLive, CapReason,
// Session.CreateTime) does, and the events are appended as AppendEvents appends them: an id that is not a
// UUID in them fails the call before anything is sent.
//
// A login with room under the cap, the usual one, is one statement (qStartSession). One that finds the
// account at its cap has written nothing and runs a second statement, qStartSessionCapped, which revokes as
// it inserts; each is a transaction of its own, so the call stays atomic whichever ran. When many logins
// find their account at the cap (see capShare), logins run qStartSessionCapped at once.
func (s *Store) StartSession(ctx context.Context, st storage.SessionStart) (int64, []storage.Revocation, error) {
	sess := st.Session
	if !isUUID(sess.ID) {
		return 0, nil, fmt.Errorf("postgres: start session: %w", errInvalidID)
	}
	if !isUUID(sess.UserID) {
		return 0, nil, storage.ErrNotFound
	}
	evs, err := newEventColumns(st.Events)
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: start session: %w", err)
	}
	var capUser any // NULL: no cap events
	if st.CapEvent.Kind != "" {
		if !isUUID(st.CapEvent.UserID) {
			return 0, nil, fmt.Errorf("postgres: start session: cap event: user id: %w", errInvalidID)
		}
		capUser = st.CapEvent.UserID
	}
	refresh := sess.RefreshTime
	if refresh.IsZero() {
		refresh = sess.CreateTime
	}
	at := msTime(sess.CreateTime)
	// The arguments of qStartSessionCapped, of which qStartSession takes the first 15.
	args := []any{sess.ID, sess.UserID, at, msTime(refresh), msTime(sess.ExpireTime), varsParam(sess.Vars),
		sess.UserAgent, sess.ClientIP, max(st.MaxLive, 0),
		evs.times, evs.kinds, evs.users, evs.sessions, evs.ips, evs.reasons,
		st.CapReason, msTime(st.CapEvent.Time), string(st.CapEvent.Kind), capUser, st.CapEvent.ClientIP, st.CapEvent.Reason}
	var gen pgtype.Int8
	room := false
	if st.MaxLive <= 0 || !s.atCap.likely() {
		err = retry(ctx, func() error {
			if st.MaxLive <= 0 {
				return s.pool.QueryRow(ctx, qStartSession, args[:15]...).Scan(&gen, &room)
			}
			br := s.sendLocked(ctx, sess.UserID, qStartSession, args[:15])
			defer br.Close()
			if _, err := br.Exec(); err != nil {
				return err
			}
			return br.QueryRow().Scan(&gen, &room)
		})
	}
	var revs []storage.Revocation
	if err == nil && !room {
		revs, err = s.startCapped(ctx, args, strings.ToLower(sess.UserID), at, &gen)
	}
	switch {
	case err == nil:
		if st.MaxLive > 0 {
			s.atCap.observe(len(revs) > 0)
		}
		return gen.Int64, revs, nil
	case errors.Is(err, pgx.ErrNoRows), pgCode(err) == codeForeignKeyViolation:
		return 0, nil, storage.ErrNotFound // no account to lock (see CreateSession)
	case uniqueConstraint(err) == conSessionsPkey:
		return 0, nil, fmt.Errorf("postgres: start session: id %s exists: %w", sess.ID, storage.ErrConflict)
	}
	return 0, nil, wrap("start session", err)
}

// capShare estimates the share of recent logins (with a cap) that found their account at the cap, so that
// StartSession can skip qStartSession when it would mostly find no room. That statement saves about 70 µs
// of database CPU on a login with room, and costs about 150 µs on one without, which pays for itself while
// fewer than a third of logins are at the cap. The estimate is a moving average over the last hundred or so
// logins, updated without a lock: concurrent updates may lose one another, which only blurs it.
type capShare struct {
	v atomic.Int64 // the share, in 1/capShareOne
}

const capShareOne = 1 << 16

// observe records whether a login found its account at the cap.
func (c *capShare) observe(atCap bool) {
	x := int64(0)
	if atCap {
		x = capShareOne
	}
	c.v.Add((x - c.v.Load()) / 128)
}

// likely reports whether the next login is likely to find its account at the cap.
func (c *capShare) likely() bool { return c.v.Load() > capShareOne/3 }

// sendLocked sends, in one round trip and one transaction, qLockUser for userID and then the statement
// sql with args; read the lock's result (Exec) before the statement's. A login under a cap counts the
// account's live sessions, and a statement reads the snapshot it started with: were the lock taken inside
// the statement, logins waiting for one another would each count without the sessions of those they
// waited for and together leave the account above its cap. Taken by a statement of its own, the lock
// comes first and the count's statement starts after it, so the count sees every login of the account
// that committed before, and the account's logins are counted one at a time. Within one implicit
// transaction, PostgreSQL's read-committed isolation takes a snapshot per statement.
func (s *Store) sendLocked(ctx context.Context, userID, sql string, args []any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.Queue(qLockUser, userID)
	b.Queue(sql, args...)
	return s.pool.SendBatch(ctx, b)
}

// startCapped runs qStartSessionCapped with args, sets gen to the session's generation and returns the
// feed entries of the sessions it revoked, in Seq order (nil for none), or pgx.ErrNoRows for an unknown
// user.
func (s *Store) startCapped(ctx context.Context, args []any, userID string, at time.Time, gen *pgtype.Int8) ([]storage.Revocation, error) {
	var revs []storage.Revocation
	err := retry(ctx, func() error {
		revs = nil
		br := s.sendLocked(ctx, userID, qStartSessionCapped, args)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			found = true
			var seq pgtype.Int8
			var id pgtype.Text
			var expire pgtype.Timestamptz
			if err := rows.Scan(gen, &seq, &id, &expire); err != nil {
				return err
			}
			if seq.Valid {
				revs = append(revs, storage.Revocation{Seq: seq.Int64, SessionID: id.String, UserID: userID,
					ExpireTime: expire.Time.UTC(), RevokeTime: at})
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return pgx.ErrNoRows
		}
		return nil
	})
	return revs, err
}

// SessionByID implements storage.Sessions. A session a cut ended reads with the account's latest cut as
// its revocation.
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

// RefreshSession implements storage.Sessions. A session whose ExpireTime is not after r.RefreshTime, or
// that a cut ended, is no longer live and fails with ErrConflict. ExpireTime never moves back: it stays the
// latest expiry of any token of the session even if r.ExpireTime is earlier.
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

// RevokeSession implements storage.Sessions. The session and its feed entry are written by one statement,
// which also notifies feedChannel. A session a cut ended is revoked already: (nil, nil).
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

// RevokeUserSessions implements storage.Sessions with an account cut: a short READ COMMITTED transaction
// that takes the account's row lock (qLockUser) and then runs qCut, whose snapshot is taken once the lock
// is held. A keep that is not a UUID names no session, and so keeps none.
//
// The transaction's isolation is set rather than left to the database's default: under REPEATABLE READ,
// qCut would read the transaction's snapshot, taken before the lock was granted, and miss the sessions
// written by the statements whose share locks it waited for.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep, reason string, at time.Time) (*storage.Revocation, int, error) {
	if !isUUID(userID) {
		return nil, 0, nil
	}
	var keepParam any // NULL: keep nothing
	if isUUID(keep) {
		keepParam = keep
	}
	at = msTime(at)
	var rev *storage.Revocation
	var n int
	err := retry(ctx, func() error {
		rev, n = nil, 0
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, qLockUser, userID)
			if err != nil || tag.RowsAffected() == 0 {
				return err // an unknown account has nothing to end
			}
			r := &storage.Revocation{UserID: strings.ToLower(userID), RevokeTime: at}
			err = tx.QueryRow(ctx, qCut, userID, keepParam, reason, at).Scan(&r.Seq, &r.Generation, &r.Keep, &n, &r.ExpireTime)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return nil // nothing to end, nothing written
			case err != nil:
				return err
			}
			r.ExpireTime = r.ExpireTime.UTC()
			rev = r
			return nil
		})
	})
	if err != nil {
		return nil, 0, wrap("revoke user sessions", err)
	}
	return rev, n, nil
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
	at = msTime(at)
	var revs []storage.Revocation
	err := retry(ctx, func() error {
		revs = revs[:0]
		rows, err := s.pool.Query(ctx, qRevokeOldestSessions, at, reason, userID, keep, newestParam)
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
		return nil, wrap("revoke oldest sessions", err)
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
	if err := row.Scan(&r.Seq, &r.SessionID, &r.UserID, &r.ExpireTime, &r.RevokeTime, &r.Generation, &r.Keep); err != nil {
		return err
	}
	r.ExpireTime, r.RevokeTime = r.ExpireTime.UTC(), r.RevokeTime.UTC()
	return nil
}

// deleteBatch bounds how many rows one DELETE removes.
const deleteBatch = 1000

// DeleteExpiredSessions implements storage.Sessions. It removes feed entries whose ExpireTime is before
// `before`, which covers the entries of every removed session: an entry copies its session's ExpireTime
// when the session is revoked, a cut's entry the latest ExpireTime of the sessions it ends, and an ended
// session's ExpireTime never decreases afterwards. The sweep is batched, so a concurrent reader may see
// part of it. The feed counter is untouched, so seqs of deleted entries are never handed out again.
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
