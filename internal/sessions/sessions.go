// Package sessions provides Latchkey's session lifecycle: issuing a session token and refresh token for a
// login, refreshing them, logging out, revoking, and validating session tokens on every request against
// an in-memory denylist that is fed by the store's revocation feed.
//
// A session is one login. Every token it issues carries the session id as `tid`, so ending the session
// ends every token of it at once, on every node that follows the feed.
package sessions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Errors. internal/httpapi maps each to Nakama's wire code and message.
var (
	// ErrTokenInvalid: a bearer session token failed verification or its session was revoked.
	ErrTokenInvalid = errors.New("session token invalid")
	// ErrRevoked is the reason Validate gives for a well-signed token of an ended session.
	ErrRevoked = errors.New("session revoked")

	ErrRefreshTokenRequired = errors.New("refresh token is required")
	ErrRefreshTokenInvalid  = errors.New("refresh token invalid or expired")
	ErrUserNotFound         = errors.New("user account not found")
	ErrBanned               = errors.New("user account banned")
	// ErrLogoutTokenInvalid and ErrLogoutRefreshInvalid reject a token named in a logout body that does not
	// verify or belongs to someone else.
	ErrLogoutTokenInvalid   = errors.New("logout: session token invalid")
	ErrLogoutRefreshInvalid = errors.New("logout: refresh token invalid")
)

// Config holds token lifetimes.
type Config struct {
	TokenExpiry   time.Duration
	RefreshExpiry time.Duration
	// SingleSession ends a user's other sessions whenever they authenticate.
	SingleSession bool
}

// Deps are the manager's collaborators.
type Deps struct {
	Store       storage.Sessions
	Users       storage.Users
	SessionKeys *tokens.Keyring
	RefreshKeys *tokens.Keyring
	Clock       func() time.Time
	Rand        io.Reader // crypto/rand when nil
	Logger      *slog.Logger
}

// Manager issues, refreshes, validates and revokes sessions.
type Manager struct {
	cfg   Config
	store storage.Sessions
	users storage.Users
	skeys *tokens.Keyring
	rkeys *tokens.Keyring
	clock func() time.Time
	rand  io.Reader
	log   *slog.Logger
	deny  *Denylist
}

// New returns a Manager. Call Load before serving, so that revocations survive restarts.
func New(cfg Config, d Deps) *Manager {
	m := &Manager{
		cfg: cfg, store: d.Store, users: d.Users, skeys: d.SessionKeys, rkeys: d.RefreshKeys,
		clock: d.Clock, rand: d.Rand, log: d.Logger, deny: NewDenylist(),
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// Meta describes the client a session was created for.
type Meta struct {
	UserAgent string
	ClientIP  string
}

// Issued is a freshly signed token pair.
type Issued struct {
	Token        string
	RefreshToken string
	Claims       tokens.Claims // of the session token
	RefreshExp   int64
}

// Issue starts a new session for the user and signs its tokens.
func (m *Manager) Issue(ctx context.Context, user *storage.User, vars map[string]string, meta Meta) (Issued, error) {
	now := m.clock().UTC()
	if m.cfg.SingleSession {
		if _, err := m.RevokeUser(ctx, user.ID, nil, "single_session"); err != nil {
			return Issued{}, err
		}
	}
	id, err := uuid.NewRandomFromReader(m.randReader())
	if err != nil {
		return Issued{}, fmt.Errorf("sessions: session id: %w", err)
	}
	exp := now.Add(m.cfg.TokenExpiry).Unix()
	rexp := now.Add(m.cfg.RefreshExpiry).Unix()
	vars = cloneVars(vars)
	s := storage.Session{
		ID: id.String(), UserID: user.ID, CreateTime: now, RefreshTime: now,
		ExpireTime: time.Unix(max(exp, rexp), 0).UTC(), Vars: vars, UserAgent: meta.UserAgent, ClientIP: meta.ClientIP,
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Issued{}, ErrUserNotFound
		}
		return Issued{}, err
	}
	c := tokens.Claims{TokenID: s.ID, UserID: user.ID, Username: user.Username, Vars: vars, ExpiresAt: exp, IssuedAt: now.Unix()}
	return m.sign(c, rexp), nil
}

func (m *Manager) sign(c tokens.Claims, refreshExp int64) Issued {
	rc := c
	rc.ExpiresAt = refreshExp
	return Issued{Token: m.skeys.Sign(&c), RefreshToken: m.rkeys.Sign(&rc), Claims: c, RefreshExp: refreshExp}
}

// Refresh exchanges a refresh token for a new token pair of the same session. Non-empty vars replace the
// session's variables; empty vars keep the refresh token's. The username and the ban state come from the
// account, not from the old token.
func (m *Manager) Refresh(ctx context.Context, refreshToken string, vars map[string]string) (Issued, error) {
	if refreshToken == "" {
		return Issued{}, ErrRefreshTokenRequired
	}
	now := m.clock().UTC()
	rc, err := m.rkeys.Verify(refreshToken, now.Unix())
	if err != nil || m.deny.Revoked(rc.TokenID) {
		return Issued{}, ErrRefreshTokenInvalid
	}
	if len(vars) == 0 {
		vars = rc.Vars
	}
	vars = cloneVars(vars)
	s, err := m.store.SessionByID(ctx, rc.TokenID)
	if errors.Is(err, storage.ErrNotFound) {
		return Issued{}, ErrRefreshTokenInvalid
	}
	if err != nil {
		return Issued{}, err
	}
	if s.Revoked() || s.UserID != rc.UserID {
		return Issued{}, ErrRefreshTokenInvalid
	}
	u, err := m.users.UserByID(ctx, rc.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return Issued{}, ErrUserNotFound
	}
	if err != nil {
		return Issued{}, err
	}
	if u.Banned() {
		return Issued{}, ErrBanned
	}
	exp := now.Add(m.cfg.TokenExpiry).Unix()
	rexp := now.Add(m.cfg.RefreshExpiry).Unix()
	// Refreshes of one session do not exclude each other (Nakama lets a client refresh twice), so the
	// update compares no sequence; it still fails if a revocation landed since the read above, and the
	// revocation wins.
	_, err = m.store.RefreshSession(ctx, storage.SessionRefresh{
		ID: s.ID, ExpectSeq: storage.AnySeq, RefreshTime: now, ExpireTime: time.Unix(max(exp, rexp), 0).UTC(), Vars: vars,
	})
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
		return Issued{}, ErrRefreshTokenInvalid
	}
	if err != nil {
		return Issued{}, err
	}
	c := tokens.Claims{TokenID: s.ID, UserID: u.ID, Username: u.Username, Vars: vars, ExpiresAt: exp, IssuedAt: rc.IssuedAt}
	return m.sign(c, rexp), nil
}

// Authenticate verifies a bearer session token: signature, expiry and the denylist, with no store read.
func (m *Manager) Authenticate(token string) (tokens.Claims, error) {
	c, err := m.Validate(token)
	if err != nil {
		return tokens.Claims{}, ErrTokenInvalid
	}
	return c, nil
}

// Validate is Authenticate with the reason kept: tokens.ErrMalformed, tokens.ErrSignature,
// tokens.ErrExpired or ErrRevoked.
func (m *Manager) Validate(token string) (tokens.Claims, error) {
	c, err := m.skeys.Verify(token, m.clock().Unix())
	if err != nil {
		return tokens.Claims{}, err
	}
	if m.deny.Revoked(c.TokenID) {
		return tokens.Claims{}, ErrRevoked
	}
	return c, nil
}

// Logout ends sessions for the caller. A session token or refresh token named in the body must verify and
// belong to the caller; naming either ends its whole session (both tokens die). With neither named, every
// session of the caller ends.
func (m *Manager) Logout(ctx context.Context, callerID, token, refreshToken string) error {
	now := m.clock().Unix()
	var ids []string
	if token != "" {
		c, err := m.skeys.Verify(token, now)
		if err != nil || c.UserID != callerID {
			return ErrLogoutTokenInvalid
		}
		ids = append(ids, c.TokenID)
	}
	if refreshToken != "" {
		c, err := m.rkeys.Verify(refreshToken, now)
		if err != nil || c.UserID != callerID {
			return ErrLogoutRefreshInvalid
		}
		if len(ids) == 0 || ids[0] != c.TokenID {
			ids = append(ids, c.TokenID)
		}
	}
	if len(ids) == 0 {
		_, err := m.RevokeUser(ctx, callerID, nil, "logout_all")
		return err
	}
	for _, id := range ids {
		if err := m.Revoke(ctx, id, "logout"); err != nil {
			return err
		}
	}
	return nil
}

// Revoke ends one session. Ending an ended or unknown session is not an error.
func (m *Manager) Revoke(ctx context.Context, sessionID, reason string) error {
	rev, err := m.store.RevokeSession(ctx, sessionID, reason, m.clock().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case rev != nil:
		m.deny.Add(*rev)
	}
	return nil
}

// RevokeUser ends every live session of a user except those in keep, and returns how many it ended.
func (m *Manager) RevokeUser(ctx context.Context, userID string, keep []string, reason string) (int, error) {
	revs, err := m.store.RevokeUserSessions(ctx, userID, keep, reason, m.clock().UTC())
	if err != nil {
		return 0, err
	}
	m.deny.Add(revs...)
	return len(revs), nil
}

// Load fills the denylist from the store's revocation feed; call it once before serving.
func (m *Manager) Load(ctx context.Context) error {
	return m.catchUp(ctx)
}

// catchUp applies every feed entry after the denylist's watermark.
func (m *Manager) catchUp(ctx context.Context) error {
	const page = 1000
	for {
		revs, err := m.store.RevocationsSince(ctx, m.deny.Seq(), m.clock().UTC(), page)
		if err != nil {
			return err
		}
		m.deny.Apply(revs...)
		if len(revs) < page {
			return nil
		}
	}
}

// Follow keeps the denylist in step with the store's revocation feed until ctx ends. It catches up every
// interval, and at once whenever the store signals new entries (storage.FeedWatcher, PostgreSQL's
// LISTEN/NOTIFY), so revocations made by other processes on the same store reach this one within one
// interval at worst and usually within milliseconds. It also prunes expired entries. Store errors are
// logged once and retried; validation keeps working from memory meanwhile, and the catch-up by sequence
// after the store comes back applies everything missed.
func (m *Manager) Follow(ctx context.Context, interval time.Duration) {
	wake := make(chan struct{}, 1)
	if w, ok := m.store.(storage.FeedWatcher); ok {
		go w.WatchFeed(ctx, func() {
			select {
			case wake <- struct{}{}:
			default: // a catch-up is already pending; it will read this entry too
			}
		})
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPrune := m.clock()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		if err := m.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				m.log.Warn("revocation feed unreachable; validating from memory", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			m.log.Info("revocation feed reachable again", "seq", m.deny.Seq())
			failing = false
		}
		if now := m.clock(); now.Sub(lastPrune) >= time.Minute {
			m.deny.Prune(now)
			lastPrune = now
		}
	}
}

// Denylist exposes the in-memory revocation set (for metrics and tests).
func (m *Manager) Denylist() *Denylist { return m.deny }

func (m *Manager) randReader() io.Reader {
	if m.rand != nil {
		return m.rand
	}
	return rand.Reader
}

func cloneVars(v map[string]string) map[string]string {
	if len(v) == 0 {
		return nil
	}
	out := make(map[string]string, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}
