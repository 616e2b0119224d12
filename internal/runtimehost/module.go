package runtimehost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/internal/tokens"
	"github.com/latchkeyhq/latchkey/runtime"
)

// module implements runtime.NakamaModule over the domain services.
type module struct{ h *Host }

var _ runtime.NakamaModule = (*module)(nil)

// callTimeout bounds the server functions Nakama declares without a context.
const callTimeout = 10 * time.Second

// canonicalID checks that id is a user id: a UUID in the canonical lowercase form the store uses.
func canonicalID(id string) (string, error) {
	if _, ok := tokens.ParseID(id); !ok {
		return "", runtime.ErrUserIDInvalid
	}
	return id, nil
}

func (m *module) user(ctx context.Context, id string) (*storage.User, error) {
	uid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	u, err := m.h.d.Accounts.AccountFresh(ctx, uid)
	if errors.Is(err, accounts.ErrAccountNotFound) || errors.Is(err, storage.ErrNotFound) {
		return nil, runtime.ErrUserNotFound
	}
	return u, err
}

func (m *module) AuthenticateTokenGenerate(userID, username string, exp int64, vars map[string]string) (string, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	u, err := m.user(ctx, userID)
	if err != nil {
		return "", 0, err
	}
	if username != "" && username != u.Username {
		// The token says what the caller asks, as in Nakama, but only a valid username.
		if err := accounts.ValidateUsername(username); err != nil {
			return "", 0, fmt.Errorf("AuthenticateTokenGenerate: %w", err)
		}
		v := *u
		v.Username = username
		u = &v
	}
	is, err := m.h.d.Sessions.Generate(ctx, u, exp, vars)
	if err != nil {
		return "", 0, err
	}
	return is.Token, is.Claims.ExpiresAt, nil
}

func (m *module) SessionValidate(ctx context.Context, token string) (*runtime.Session, error) {
	c, err := m.h.d.Sessions.Validate(token)
	switch {
	case err == nil:
		return &runtime.Session{SessionID: c.TokenID, UserID: c.UserID, Username: c.Username, Vars: maps.Clone(c.Vars), ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt}, nil
	case errors.Is(err, tokens.ErrExpired):
		return nil, runtime.ErrTokenExpired
	case errors.Is(err, tokens.ErrSignature):
		return nil, runtime.ErrTokenSignature
	case errors.Is(err, sessions.ErrRevoked):
		return nil, runtime.ErrSessionRevoked
	default:
		return nil, runtime.ErrTokenMalformed
	}
}

func (m *module) TicketMint(ctx context.Context, userID, sessionID, audience string, ttlSec int, vars map[string]string) (*runtime.Ticket, error) {
	t := m.h.d.Tickets
	if t == nil {
		return nil, runtime.ErrTicketsNotConfigured
	}
	if ttlSec < 0 || ttlSec > math.MaxInt32 { // beyond any max_ttl_sec, and safe from overflow as a Duration
		return nil, runtime.ErrTicketTTL
	}
	u, err := m.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	s, err := m.h.d.Sessions.LiveSession(ctx, u.ID, sessionID)
	if errors.Is(err, sessions.ErrSessionNotFound) {
		return nil, runtime.ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	if vars == nil {
		vars = s.Vars
	}
	c := tokens.Claims{TokenID: s.ID, UserID: u.ID, Username: u.Username, Generation: s.Generation, Vars: vars,
		ExpiresAt: s.ExpireTime.Unix()}
	tk, err := t.Mint(ctx, c, audience, time.Duration(ttlSec)*time.Second)
	switch {
	case errors.Is(err, tickets.ErrInvalidAudience):
		return nil, runtime.ErrTicketAudience
	case errors.Is(err, tickets.ErrInvalidTTL):
		return nil, runtime.ErrTicketTTL
	case err != nil:
		return nil, err
	}
	return &runtime.Ticket{Token: tk.Token, ID: tk.ID, ExpiresAt: tk.ExpiresAt}, nil
}

func (m *module) TicketRedeem(ctx context.Context, token, audience string) (*runtime.TicketClaims, error) {
	t := m.h.d.Tickets
	if t == nil {
		return nil, runtime.ErrTicketsNotConfigured
	}
	c, err := t.Redeem(ctx, token, audience)
	switch {
	case err == nil:
		return &runtime.TicketClaims{UserID: c.UserID, Username: c.Username, SessionID: c.SessionID, Audience: c.Audience,
			ID: c.ID, ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt, Vars: maps.Clone(c.Vars)}, nil
	case errors.Is(err, tickets.ErrExpired):
		return nil, runtime.ErrTokenExpired
	case errors.Is(err, tickets.ErrSignature):
		return nil, runtime.ErrTokenSignature
	case errors.Is(err, tickets.ErrMalformed), errors.Is(err, tickets.ErrClaims):
		return nil, runtime.ErrTokenMalformed
	case errors.Is(err, tickets.ErrAudience):
		return nil, runtime.ErrTicketWrongAudience
	case errors.Is(err, tickets.ErrRedeemed):
		return nil, runtime.ErrTicketRedeemed
	case errors.Is(err, tickets.ErrRevoked):
		return nil, runtime.ErrSessionRevoked
	}
	return nil, err
}

func (m *module) SessionLogout(userID, token, refreshToken string) error {
	uid, err := canonicalID(userID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return m.h.d.Sessions.Logout(ctx, tokens.Claims{UserID: uid}, token, refreshToken, sessions.ScopeNakama, sessions.Meta{})
}

// sessionsPage is how many sessions SessionsList reads from the store at a time.
const sessionsPage = 500

func (m *module) SessionsList(ctx context.Context, userID string) ([]*runtime.SessionInfo, error) {
	uid, err := canonicalID(userID)
	if err != nil {
		return nil, err
	}
	// Server code gets every live session, read a page at a time; session.max_sessions_per_user bounds
	// how many there are.
	var out []*runtime.SessionInfo
	cursor := ""
	for {
		list, next, err := m.h.d.Sessions.List(ctx, uid, cursor, sessionsPage)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			out = append(out, &runtime.SessionInfo{
				ID: s.ID, CreateTime: s.CreateTime.Unix(), RefreshTime: s.RefreshTime.Unix(), ExpireTime: s.ExpireTime.Unix(),
				UserAgent: s.UserAgent, ClientIP: s.ClientIP,
			})
		}
		if next == "" {
			if out == nil {
				out = []*runtime.SessionInfo{}
			}
			return out, nil
		}
		cursor = next
	}
}

func (m *module) SessionRevoke(ctx context.Context, userID, sessionID string) error {
	uid, err := canonicalID(userID)
	if err != nil {
		return err
	}
	err = m.h.d.Sessions.RevokeSession(ctx, uid, sessionID, "server code")
	if errors.Is(err, sessions.ErrSessionNotFound) {
		return runtime.ErrSessionNotFound
	}
	return err
}

func (m *module) AccountGetId(ctx context.Context, userID string) (*api.Account, error) {
	u, err := m.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	return httpapi.AccountJSON(u), nil
}

func (m *module) AccountUpdateId(ctx context.Context, userID, username string, metadata map[string]interface{}, displayName, timezone, location, langTag, avatarUrl string) error {
	uid, err := canonicalID(userID)
	if err != nil {
		return err
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	p := accounts.Profile{
		Username: opt(username), DisplayName: opt(displayName), Timezone: opt(timezone), Location: opt(location),
		LangTag: opt(langTag), AvatarURL: opt(avatarUrl),
	}
	if metadata != nil {
		b, err := json.Marshal(metadata)
		if err != nil {
			return fmt.Errorf("AccountUpdateId: metadata: %w", err)
		}
		s := string(b)
		p.Metadata = &s
	}
	err = m.h.d.Accounts.UpdateAccount(ctx, uid, p)
	switch {
	case errors.Is(err, accounts.ErrAccountNotFound) || errors.Is(err, accounts.ErrUserNotFound):
		return runtime.ErrUserNotFound
	case errors.Is(err, accounts.ErrUsernameTaken):
		return fmt.Errorf("%w: %w", runtime.ErrUsernameTaken, err)
	}
	return err
}

func (m *module) UsersBanId(ctx context.Context, userIDs []string) error {
	for _, id := range userIDs {
		uid, err := canonicalID(id)
		if err != nil {
			return err
		}
		if _, err := m.h.d.Sessions.Ban(ctx, uid, "server code"); err != nil {
			if errors.Is(err, sessions.ErrUserNotFound) {
				return runtime.ErrUserNotFound
			}
			return err
		}
	}
	return nil
}

func (m *module) UsersUnbanId(ctx context.Context, userIDs []string) error {
	for _, id := range userIDs {
		uid, err := canonicalID(id)
		if err != nil {
			return err
		}
		if err := m.h.d.Sessions.Unban(ctx, uid, "server code"); err != nil {
			if errors.Is(err, sessions.ErrUserNotFound) {
				return runtime.ErrUserNotFound
			}
			return err
		}
	}
	return nil
}

// logger adapts slog to runtime.Logger.
type logger struct{ l *slog.Logger }

func (h *Host) logger(call string) runtime.Logger { return logger{h.log.With("call", call)} }

func (l logger) Debug(format string, v ...interface{}) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Info(format string, v ...interface{})  { l.l.Info(fmt.Sprintf(format, v...)) }
func (l logger) Warn(format string, v ...interface{})  { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l logger) Error(format string, v ...interface{}) { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) WithField(key string, v interface{}) runtime.Logger {
	return logger{l.l.With(key, v)}
}
func (l logger) WithFields(fields map[string]interface{}) runtime.Logger {
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	return logger{l.l.With(args...)}
}
func (l logger) Fields() map[string]interface{} { return map[string]interface{}{} }
