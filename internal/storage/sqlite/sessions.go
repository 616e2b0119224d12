package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// sessionColumns are a session row's columns as scanSession reads them, for a session known to be live.
const sessionColumns = `id, user_id, create_time, refresh_time, expire_time, coalesce(revoke_time, 0), revoke_reason,
	refresh_seq, coalesce(vars, ''), user_agent, client_ip, generation`

// uncut holds for a session s of account u that no account cut has ended: it is in the account's current
// generation or is the session the latest cut kept.
const uncut = `(s.generation >= u.session_generation OR s.id = u.session_keep)`

// sessionCutColumns are sessionColumns for a session s joined with its account u: a session a cut ended
// reads as revoked at the account's latest cut, for its reason.
const sessionCutColumns = `s.id, s.user_id, s.create_time, s.refresh_time, s.expire_time,
	coalesce(s.revoke_time, CASE WHEN ` + uncut + ` THEN 0 ELSE u.session_cut_time END, 0),
	CASE WHEN s.revoke_time IS NULL AND NOT ` + uncut + ` THEN u.session_cut_reason ELSE s.revoke_reason END,
	s.refresh_seq, coalesce(s.vars, ''), s.user_agent, s.client_ip, s.generation`

func scanSession(row rowScanner, s *storage.Session) error {
	var create, refresh, expire, revoke int64
	var vars string
	err := row.Scan(&s.ID, &s.UserID, &create, &refresh, &expire, &revoke, &s.RevokeReason,
		&s.RefreshSeq, &vars, &s.UserAgent, &s.ClientIP, &s.Generation)
	if err != nil {
		return err
	}
	s.CreateTime, s.RefreshTime = fromMillis(create), fromMillis(refresh)
	s.ExpireTime, s.RevokeTime = fromMillis(expire), fromMillis(revoke)
	s.Vars = nil
	if vars != "" {
		if err := json.Unmarshal([]byte(vars), &s.Vars); err != nil {
			return fmt.Errorf("decode vars: %w", err)
		}
	}
	return nil
}

// encodeVars returns the stored form of vars: a JSON object, or NULL when there are none.
func encodeVars(vars map[string]string) (any, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// CreateSession implements storage.Sessions. The session is stored live whatever its RevokeTime,
// RevokeReason, RefreshSeq and Generation say, and a zero RefreshTime is taken to be CreateTime.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) (int64, error) {
	gen, _, err := s.StartSession(ctx, storage.SessionStart{Session: sess})
	return gen, err
}

// StartSession implements storage.Sessions: one operation of the committer, so a login costs one share of
// a transaction. As in CreateSession, the session is stored live whatever its RevokeTime, RevokeReason,
// RefreshSeq and Generation say, and a zero RefreshTime is taken to be CreateTime.
func (s *Store) StartSession(ctx context.Context, st storage.SessionStart) (int64, []storage.Revocation, error) {
	sess := st.Session
	vars, err := encodeVars(sess.Vars)
	if err != nil {
		return 0, nil, s.wrap("start session", err)
	}
	refresh := sess.RefreshTime
	if refresh.IsZero() {
		refresh = sess.CreateTime
	}
	at := sess.CreateTime
	ms := at.UnixMilli()
	var gen int64
	var revs []storage.Revocation
	err = s.commit.write(ctx, func(w *wtx) error {
		revs = nil
		err := w.stmt(qInsertSession).QueryRowContext(w.ctx, sess.ID, sess.UserID, ms, refresh.UnixMilli(),
			sess.ExpireTime.UnixMilli(), vars, sess.UserAgent, sess.ClientIP).Scan(&gen)
		if err != nil {
			return err // nothing written: no such user, or a clash in the one insert
		}
		if st.MaxLive > 0 {
			if revs, err = trim(w, qTrimAfterStart, sess.UserID, sess.ID, st.MaxLive, st.CapReason, at); err != nil {
				return err
			}
		}
		evs := st.Events
		if st.CapEvent.Kind != "" && len(revs) > 0 {
			evs = slices.Clone(evs)
			for _, r := range revs {
				ev := st.CapEvent
				ev.SessionID = r.SessionID
				evs = append(evs, ev)
			}
		}
		return appendEvents(w, evs)
	})
	switch {
	case err == nil:
		return gen, revs, nil
	case errors.Is(err, sql.ErrNoRows), isForeignKey(err):
		return 0, nil, storage.ErrNotFound
	case uniqueColumn(err) == "sessions.id":
		return 0, nil, fmt.Errorf("sqlite: start session: id %s exists: %w", sess.ID, storage.ErrConflict)
	}
	return 0, nil, s.wrap("start session", err)
}

// SessionByID implements storage.Sessions.
func (s *Store) SessionByID(ctx context.Context, id string) (*storage.Session, error) {
	sess := new(storage.Session)
	err := scanSession(s.read.stmt(ctx, qSessionByID).QueryRowContext(ctx, id), sess)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("session by id", err)
	}
	return sess, nil
}

// RefreshSession implements storage.Sessions. A session whose ExpireTime is not after r.RefreshTime is no
// longer live and fails with ErrConflict. ExpireTime never moves back: it stays the latest expiry of any
// token of the session even if r.ExpireTime is earlier.
func (s *Store) RefreshSession(ctx context.Context, r storage.SessionRefresh) (*storage.Session, error) {
	vars, err := encodeVars(r.Vars)
	if err != nil {
		return nil, s.wrap("refresh session", err)
	}
	at := r.RefreshTime.UnixMilli()
	sess := new(storage.Session)
	err = s.commit.write(ctx, func(w *wtx) error {
		err := scanSession(w.stmt(qRefreshSession).QueryRowContext(w.ctx, at, r.ExpireTime.UnixMilli(), vars,
			r.ID, r.ExpectSeq, at), sess)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// The compare-and-swap matched nothing: either there is no such session or a precondition failed.
		switch exists, err := sessionExists(w.stmt(qSessionExists).QueryRowContext(w.ctx, r.ID)); {
		case err != nil:
			return err
		case !exists:
			return storage.ErrNotFound
		}
		return storage.ErrConflict
	})
	switch {
	case err == nil:
		return sess, nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
		return nil, err
	}
	return nil, s.wrap("refresh session", err)
}

// sessionExists reads the result of qSessionExists.
func sessionExists(row rowScanner) (bool, error) {
	var one int
	err := row.Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// RevokeSession implements storage.Sessions.
func (s *Store) RevokeSession(ctx context.Context, id string, reason string, at time.Time) (*storage.Revocation, error) {
	var rev *storage.Revocation
	err := s.commit.write(ctx, func(w *wtx) error {
		r := storage.Revocation{SessionID: id, RevokeTime: truncate(at)}
		var expire int64
		err := w.stmt(qRevokeSession).QueryRowContext(w.ctx, at.UnixMilli(), reason, id).Scan(&r.UserID, &expire)
		if errors.Is(err, sql.ErrNoRows) {
			// Already revoked, or unknown. The operation holds the write lock, so the answer is current.
			switch exists, err := sessionExists(w.stmt(qSessionExists).QueryRowContext(w.ctx, id)); {
			case err != nil:
				return err
			case !exists:
				return storage.ErrNotFound
			}
			return nil
		}
		if err != nil {
			return err
		}
		r.ExpireTime = fromMillis(expire)
		if err := w.stmt(qInsertRevocation).QueryRowContext(w.ctx, id, r.UserID, expire, at.UnixMilli()).Scan(&r.Seq); err != nil {
			return err
		}
		rev = &r
		return nil
	})
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, storage.ErrNotFound):
		return nil, err
	}
	return nil, s.wrap("revoke session", err)
}

// RevokeUserSessions implements storage.Sessions: it reads the account's state, counts what the cut ends,
// moves the generation on and appends the cut's feed entry, in one write transaction whose writes are one
// row update and one insert whatever the number of sessions.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep, reason string, at time.Time) (*storage.Revocation, int, error) {
	var rev *storage.Revocation
	var n int
	ms := at.UnixMilli()
	err := s.commit.write(ctx, func(w *wtx) error {
		var gen int64
		var oldKeep string
		var keepLive bool
		err := w.stmt(qCutState).QueryRowContext(w.ctx, userID, keep, ms).Scan(&gen, &oldKeep, &keepLive)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !keepLive {
			keep = ""
		}
		var expire int64
		if err := w.stmt(qCutCount).QueryRowContext(w.ctx, userID, ms, gen, oldKeep, keep).Scan(&n, &expire); err != nil {
			return err
		}
		if n == 0 {
			return nil // nothing to write
		}
		r := storage.Revocation{UserID: userID, RevokeTime: truncate(at), ExpireTime: fromMillis(expire), Keep: keep}
		if err := w.stmt(qCutUser).QueryRowContext(w.ctx, userID, keep, ms, reason).Scan(&r.Generation); err != nil {
			return err
		}
		if err := w.stmt(qInsertCut).QueryRowContext(w.ctx, userID, expire, ms, r.Generation, keep).Scan(&r.Seq); err != nil {
			return err
		}
		rev = &r
		return nil
	})
	if err != nil {
		return nil, 0, s.wrap("revoke user sessions", err)
	}
	return rev, n, nil
}

// RevokeOldestSessions implements storage.Sessions. The feed entries come back in Seq order.
func (s *Store) RevokeOldestSessions(ctx context.Context, userID, newest string, keep int, reason string, at time.Time) ([]storage.Revocation, error) {
	var revs []storage.Revocation
	err := s.commit.write(ctx, func(w *wtx) error {
		var err error
		revs, err = trim(w, qRevokeOldestSessions, userID, newest, keep, reason, at)
		return err
	})
	if err != nil {
		return nil, s.wrap("revoke oldest sessions", err)
	}
	return revs, nil
}

// trim runs qRevokeOldestSessions, or qTrimAfterStart and then revokes what it found, inside an operation,
// and appends the feed entries of the sessions revoked.
func trim(w *wtx, id stmtID, userID, newest string, keep int, reason string, at time.Time) ([]storage.Revocation, error) {
	ms := at.UnixMilli()
	args := []any{ms, reason, userID, ms, keep, newest}
	if id == qTrimAfterStart {
		args = []any{userID, ms, keep, newest}
	}
	rows, err := w.stmt(id).QueryContext(w.ctx, args...)
	if err != nil {
		return nil, err
	}
	var revs []storage.Revocation
	for rows.Next() {
		rev := storage.Revocation{UserID: userID, RevokeTime: truncate(at)}
		var expire int64
		if err := rows.Scan(&rev.SessionID, &expire); err != nil {
			rows.Close()
			return nil, err
		}
		rev.ExpireTime = fromMillis(expire)
		revs = append(revs, rev)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	insert := w.stmt(qInsertRevocation)
	for i := range revs {
		r := &revs[i]
		if id == qTrimAfterStart { // it only found them
			if _, err := w.stmt(qRevokeByID).ExecContext(w.ctx, ms, reason, r.SessionID); err != nil {
				return nil, err
			}
		}
		if err := insert.QueryRowContext(w.ctx, r.SessionID, userID, r.ExpireTime.UnixMilli(), ms).Scan(&r.Seq); err != nil {
			return nil, err
		}
	}
	return revs, nil
}

// ListUserSessions implements storage.Sessions. Sessions created at the same millisecond are ordered by id
// descending so that the order is stable.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time, after storage.SessionCursor, limit int) ([]storage.Session, error) {
	if limit < 1 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.read.stmt(ctx, qListUserSessions), scanSession, userID, now.UnixMilli(),
		after.ID, after.CreateTime.UnixMilli(), limit)
	if err != nil {
		return nil, s.wrap("list user sessions", err)
	}
	return out, nil
}

// RevocationsSince implements storage.Sessions. A limit below 1 returns nothing.
//
// Seq order is also commit order here because SQLite has a single writer, so a reader that resumes after
// the last Seq it saw cannot skip an entry that commits later with a smaller Seq.
func (s *Store) RevocationsSince(ctx context.Context, after int64, now time.Time, limit int) ([]storage.Revocation, error) {
	if limit < 1 {
		return nil, nil
	}
	out, err := queryAll(ctx, s.read.stmt(ctx, qRevocationsSince), scanRevocation, after, now.UnixMilli(), limit)
	if err != nil {
		return nil, s.wrap("revocations since", err)
	}
	return out, nil
}

func scanRevocation(row rowScanner, r *storage.Revocation) error {
	var expire, revoke int64
	if err := row.Scan(&r.Seq, &r.SessionID, &r.UserID, &expire, &revoke, &r.Generation, &r.Keep); err != nil {
		return err
	}
	r.ExpireTime, r.RevokeTime = fromMillis(expire), fromMillis(revoke)
	return nil
}

// deleteBatch bounds how many rows one DELETE removes, so that a large sweep holds the write lock in short
// turns and logins can interleave with it.
const deleteBatch = 1000

// DeleteExpiredSessions implements storage.Sessions. It removes feed entries whose ExpireTime is before
// `before`, which covers the entries of every removed session: an entry copies its session's ExpireTime
// when the session is revoked, and a revoked session's ExpireTime never decreases afterwards. The sweep is
// batched, so a concurrent reader may see part of it.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	ms := before.UnixMilli()
	n, err := s.sweep(ctx, qDeleteExpiredSessions, ms)
	if err == nil {
		_, err = s.sweep(ctx, qDeleteExpiredRevocations, ms)
	}
	if err != nil {
		return n, s.wrap("delete expired sessions", err)
	}
	return n, nil
}

// sweep runs a batched DELETE, whose arguments are a time in unix milliseconds and the batch size, until a
// batch removes fewer than deleteBatch rows, and returns how many rows it removed in all.
func (s *Store) sweep(ctx context.Context, id stmtID, ms int64) (int, error) {
	total := 0
	for {
		var n int64
		err := s.commit.write(ctx, func(w *wtx) error {
			res, err := w.stmt(id).ExecContext(w.ctx, ms, deleteBatch)
			if err == nil {
				n, err = res.RowsAffected()
			}
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
