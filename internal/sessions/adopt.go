package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// adoptReason is the reason of the session_created event of an adopted Nakama session.
const adoptReason = "adopted from Nakama"

// adoptable reports whether a verified refresh token may be adopted (Config.AdoptNakama): it has none of
// the claims Latchkey adds (no sid, gen or rsq), as Nakama's tokens, and its tid is a canonical UUID,
// which Nakama's always are. Tokens of Latchkey versions before the sid claim look the same, but their
// sessions are in the store, so they are never adopted.
func (m *Manager) adoptable(rc tokens.Claims) bool {
	if !m.cfg.AdoptNakama || rc.StoreID != "" || rc.Generation != 0 || rc.RefreshSeq != 0 {
		return false
	}
	id, ok := tokens.CanonicalID(rc.TokenID)
	return ok && id == rc.TokenID
}

// session reads the session of a verified refresh token whose account u exists and is not banned. A
// Nakama token's session unknown to the store is adopted first, when adoptable says so.
func (m *Manager) session(ctx context.Context, u *storage.User, rc tokens.Claims, meta Meta, now time.Time) (*storage.Session, error) {
	s, err := m.store.SessionByID(ctx, rc.TokenID)
	if !errors.Is(err, storage.ErrNotFound) || !m.adoptable(rc) {
		return s, err
	}
	if err := m.adopt(ctx, u, rc, meta, now); err != nil {
		return nil, err
	}
	return m.store.SessionByID(ctx, rc.TokenID)
}

// adopt stores the session of a Nakama refresh token as a Latchkey session of the same id, so that the
// refresh can go on as for one of Latchkey's own: created when the token was issued (iat), lasting until
// it expires, with its variables and the account's current session generation, the session cap applied
// as for a login, and a session_created event. Losing a race with another adoption of the same token (on
// another node, say) is not an error: the session is there. An account cut made before the adoption does
// not end the adopted session, since the store could not name it then; a ban refuses the refresh before
// adoption, and a cut still held by the denylist (the account's gen is above the token's 0) too.
func (m *Manager) adopt(ctx context.Context, u *storage.User, rc tokens.Claims, meta Meta, now time.Time) error {
	created := now
	if rc.IssuedAt > 0 && rc.IssuedAt < now.Unix() {
		created = time.Unix(rc.IssuedAt, 0).UTC()
	}
	s := storage.Session{
		ID: rc.TokenID, UserID: u.ID, CreateTime: created, RefreshTime: created,
		ExpireTime: time.Unix(rc.ExpiresAt, 0).UTC(), Vars: cloneVars(rc.Vars),
		UserAgent: meta.UserAgent, ClientIP: meta.ClientIP,
	}
	_, err := m.begin(ctx, s, now, adoptReason)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return nil
	case errors.Is(err, ErrUserNotFound):
		return ErrRefreshTokenInvalid // deleted since it was read
	case err != nil:
		return err
	}
	m.log.Info("adopted a Nakama session", "user_id", u.ID, "session_id", s.ID)
	return nil
}
