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
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
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
	// ErrOtherStore is the reason Validate gives for a well-signed token whose sid claim names another store
	// than this manager's: one minted against a database that has since been wiped or replaced, or by
	// another deployment that shares the signing keys. Its session is not in this store, so the token counts
	// as ended, and errors.Is(err, ErrRevoked) holds as well.
	ErrOtherStore = fmt.Errorf("%w: token of another store", ErrRevoked)

	ErrRefreshTokenRequired = errors.New("refresh token is required")
	ErrRefreshTokenInvalid  = errors.New("refresh token invalid or expired")
	ErrUserNotFound         = errors.New("user account not found")
	ErrBanned               = errors.New("user account banned")
	// ErrLogoutTokenInvalid and ErrLogoutRefreshInvalid reject a token named in a logout body that does not
	// verify or belongs to someone else.
	ErrLogoutTokenInvalid   = errors.New("logout: session token invalid")
	ErrLogoutRefreshInvalid = errors.New("logout: refresh token invalid")
	// ErrLogoutScope rejects a logout scope other than current, others and all.
	ErrLogoutScope = errors.New("logout: unknown scope")
	// ErrSessionNotFound: the session to end does not exist, is not the caller's, or has already ended.
	ErrSessionNotFound = errors.New("session not found")
	// ErrCursorInvalid rejects a session list cursor that List did not make.
	ErrCursorInvalid = errors.New("session list cursor invalid")
)

// Logout scopes (POST /v2/session/logout `scope`).
const (
	ScopeNakama  = ""        // Nakama's per-field behaviour: the named tokens' sessions, or all when none named
	ScopeCurrent = "current" // the calling session
	ScopeOthers  = "others"  // every session of the caller but the calling one
	ScopeAll     = "all"     // every session of the caller
)

// Config holds token lifetimes.
type Config struct {
	TokenExpiry   time.Duration
	RefreshExpiry time.Duration
	// SingleSession ends a user's other sessions whenever they authenticate.
	SingleSession bool
	// MaxSessions caps a user's live sessions: a new session beyond it ends the oldest ones, so that
	// the count never exceeds it. 0 means no cap.
	MaxSessions int
	// EventRetention is how long security events are kept; 0 means DefaultEventRetention.
	EventRetention time.Duration
	// EventsPerHour bounds the session_created and session_refreshed events written per account and kind
	// in an hour on a node; the rest are counted into one summary event per hour. 0 writes them all.
	EventsPerHour int
	// Rotation makes every refresh supersede the refresh token it was given: presenting a superseded token
	// again after ReuseGrace ends the whole session as a probable theft. Without it, a refresh token stays
	// usable until it expires, as in Nakama.
	Rotation bool
	// AdoptNakama lets a refresh token Nakama issued start a Latchkey session of the same id (see adopt).
	AdoptNakama bool
	// ReuseGrace is how long after a rotation the superseded refresh token still answers, with the same
	// successor pair, so that a retried request or two racing refreshes of one client are not punished.
	ReuseGrace time.Duration
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
	// Events records security events; nil records none.
	Events storage.Events
	// Accounts, when set, is where a refresh reads the account first: a per-node cache, say. Only a refresh
	// that succeeds relies on it (its session is read from the store, so an ended session, a ban's
	// included, is always seen); every refusal is decided on Users, read afresh.
	Accounts AccountReader
	// Observer is told of refreshes, reuse detections and revocations (internal/metrics); nil: none.
	Observer Observer
}

// Observer is told what the manager does, for metrics. Its methods must be quick and safe for concurrent
// use; every argument is one word of a fixed set.
type Observer interface {
	// Refreshed counts a refresh by outcome: ok, grace (a retry within the reuse grace, answered with the
	// pair already issued), invalid, reused, banned, not_found, unavailable or error.
	Refreshed(outcome string)
	// ReuseDetected counts a superseded refresh token presented after the grace window.
	ReuseDetected()
	// Revoked counts n sessions this node ended, by reason: logout, session_deleted, single_session,
	// session_cap, refresh_reuse, ban, account_deleted or other (server code and administrators).
	Revoked(reason string, n int)
}

// AccountReader reads an account; ErrNotFound (storage's) for an unknown id.
type AccountReader interface {
	UserByID(ctx context.Context, id string) (*storage.User, error)
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
	evs   storage.Events
	accts AccountReader // Deps.Accounts, or users
	// cached reports whether accts is a reader of its own (Deps.Accounts), which may be behind the store.
	cached bool
	// sample bounds the high-volume security events (Config.EventsPerHour); nil writes them all.
	sample *eventSampler
	// storeID is the store's id (storage.Sessions.StoreID), read by Load: every token issued carries it as
	// sid, and tokens whose sid differs are refused. Empty until Load.
	storeID string

	onRevoke []func([]storage.Revocation)
	onEnd    []func(ctx context.Context, userID string, at time.Time, reason string)
	onChange []func(userID string)
	added    signal // fired whenever revocations reach the denylist (see RevocationsAdded)

	obs Observer // nil: not observed
	// born and feedRead time the last successful read of the revocation feed: feedRead is how long after
	// born it ended, so that FeedReadAt keeps the monotonic clock reading.
	born     time.Time
	feedRead atomic.Int64
}

// New returns a Manager. Call Load before serving, so that revocations survive restarts.
func New(cfg Config, d Deps) *Manager {
	m := &Manager{
		cfg: cfg, store: d.Store, users: d.Users, skeys: d.SessionKeys, rkeys: d.RefreshKeys,
		clock: d.Clock, rand: d.Rand, log: d.Logger, deny: NewDenylist(), evs: d.Events, accts: d.Accounts,
		obs: d.Observer, born: time.Now(),
	}
	m.cached = m.accts != nil
	if !m.cached {
		m.accts = d.Users
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if cfg.EventsPerHour > 0 {
		m.sample = newEventSampler(cfg.EventsPerHour, defaultMaxSampled)
	}
	return m
}

// OnRevoke registers fn to be told of revocations as they reach this node's denylist: those this node
// makes, at once, and those read from the store's feed (other processes', and this node's own again).
// fn must be quick and must not block; it may be told of a revocation more than once. Register before
// serving: registration is not synchronised with revocations.
func (m *Manager) OnRevoke(fn func([]storage.Revocation)) {
	m.onRevoke = append(m.onRevoke, fn)
}

// OnAccountEnd registers fn to be told of every ban and account deletion made through this manager, before
// the account's sessions are revoked; reason is "ban" or "account deleted". Register before serving.
func (m *Manager) OnAccountEnd(fn func(ctx context.Context, userID string, at time.Time, reason string)) {
	m.onEnd = append(m.onEnd, fn)
}

// OnAccountChange registers fn to be told of every account this manager changes (a ban, an unban, the
// disabling before a deletion, the deletion), after the change is stored: the account read cache drops
// the account there, so that every caller of these methods gets that step without repeating it. Register
// before serving.
func (m *Manager) OnAccountChange(fn func(userID string)) {
	m.onChange = append(m.onChange, fn)
}

func (m *Manager) changed(userID string) {
	for _, fn := range m.onChange {
		fn(userID)
	}
}

// denied adds revocations to the denylist (own ones without moving its watermark, see Denylist.Add) and
// tells the OnRevoke listeners.
func (m *Manager) denied(fromFeed bool, revs ...storage.Revocation) {
	if len(revs) == 0 {
		return
	}
	if fromFeed {
		m.deny.Apply(revs...)
	} else {
		m.deny.Add(revs...)
	}
	m.added.fire()
	for _, fn := range m.onRevoke {
		fn(revs)
	}
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
		if _, err := m.RevokeUser(ctx, user.ID, "", storage.EventSessionRevoked, "single_session", meta.ClientIP); err != nil {
			return Issued{}, err
		}
	}
	exp := now.Add(m.cfg.TokenExpiry).Unix()
	rexp := now.Add(m.cfg.RefreshExpiry).Unix()
	until := max(exp, rexp)
	if !m.cfg.Rotation {
		until += int64(m.refreshSlack() / time.Second) // see refreshInPlace
	}
	c, err := m.start(ctx, user, now, until, vars, meta, "")
	if err != nil {
		return Issued{}, err
	}
	c.ExpiresAt = exp
	return m.sign(c, rexp, 0), nil
}

// start stores a new session of the user that lasts until expire (Unix seconds), records its creation,
// and returns the claims of its tokens (ExpiresAt set to expire).
func (m *Manager) start(ctx context.Context, user *storage.User, now time.Time, expire int64, vars map[string]string, meta Meta, reason string) (tokens.Claims, error) {
	// A version 7 UUID: time-ordered, so that new sessions append to the session id index rather than
	// dirtying a random page of it.
	id, err := uuid.NewV7FromReader(m.randReader())
	if err != nil {
		return tokens.Claims{}, fmt.Errorf("sessions: session id: %w", err)
	}
	vars = cloneVars(vars)
	s := storage.Session{
		ID: id.String(), UserID: user.ID, CreateTime: now, RefreshTime: now,
		ExpireTime: time.Unix(expire, 0).UTC(), Vars: vars, UserAgent: meta.UserAgent, ClientIP: meta.ClientIP,
	}
	gen, err := m.begin(ctx, s, now, reason)
	if err != nil {
		return tokens.Claims{}, err
	}
	return tokens.Claims{
		TokenID: s.ID, UserID: user.ID, Username: user.Username, Vars: vars, ExpiresAt: expire, IssuedAt: now.Unix(),
		StoreID: m.storeID, Generation: gen,
	}, nil
}

// begin stores the new session s with the session cap applied and its creation recorded at now with
// reason, and returns its generation: the session, the cap and the events are one write (one transaction
// on both backends). ErrUserNotFound for an unknown account; storage.ErrConflict when the id exists.
func (m *Manager) begin(ctx context.Context, s storage.Session, now time.Time, reason string) (int64, error) {
	st := storage.SessionStart{Session: s, MaxLive: m.cfg.MaxSessions, CapReason: capReason}
	if m.evs != nil {
		st.Events = m.sampled([]storage.Event{{Time: now, Kind: storage.EventSessionCreated, UserID: s.UserID, SessionID: s.ID, ClientIP: s.ClientIP, Reason: reason}})
		st.CapEvent = storage.Event{Time: now, Kind: storage.EventSessionRevoked, UserID: s.UserID, ClientIP: s.ClientIP, Reason: capReason}
	}
	gen, revs, err := m.store.StartSession(ctx, st)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return 0, ErrUserNotFound
		}
		return 0, err
	}
	m.denied(false, revs...)
	m.observeRevoked(storage.EventSessionRevoked, capReason, len(revs))
	return gen, nil
}

// capReason is the revoke reason of sessions ended by the session cap.
const capReason = "session cap"

func (m *Manager) sign(c tokens.Claims, refreshExp, refreshSeq int64) Issued {
	rc := c
	rc.ExpiresAt = refreshExp
	rc.RefreshSeq = refreshSeq
	return Issued{Token: m.skeys.Sign(&c), RefreshToken: m.rkeys.Sign(&rc), Claims: c, RefreshExp: refreshExp}
}

// pairAt signs the pair a refresh at refreshTime produced for session s: the lifetimes count from the
// refresh time, and the refresh token carries the session's refresh count. Because signing is
// deterministic, calling it again for the same refresh gives the same pair, which is how a retried refresh
// within the grace window gets the successor it missed.
func (m *Manager) pairAt(s *storage.Session, u *storage.User, issuedAt int64) Issued {
	at := s.RefreshTime.Unix()
	exp := at + int64(m.cfg.TokenExpiry/time.Second)
	rexp := at + int64(m.cfg.RefreshExpiry/time.Second)
	seq := int64(0)
	if m.cfg.Rotation {
		seq = s.RefreshSeq
	}
	c := tokens.Claims{
		TokenID: s.ID, UserID: u.ID, Username: u.Username, Vars: s.Vars, ExpiresAt: exp, IssuedAt: issuedAt,
		StoreID: m.storeID, Generation: s.Generation,
	}
	return m.sign(c, rexp, seq)
}

// Refresh exchanges a refresh token for a new token pair of the same session. Non-empty vars replace the
// session's variables; empty vars keep the refresh token's. The username and the ban state come from the
// account, not from the old token.
//
// With rotation on, the pair carries the session's new refresh count and supersedes the token presented:
// presenting the superseded token again within the grace window returns the same successor pair; after
// it, or presenting any older token, ends the session (a refresh token was copied) and fails.
func (m *Manager) Refresh(ctx context.Context, refreshToken string, vars map[string]string, meta Meta) (Issued, error) {
	is, grace, err := m.refresh(ctx, refreshToken, vars, meta)
	if m.obs != nil {
		m.obs.Refreshed(refreshOutcome(grace, err))
	}
	return is, err
}

// refreshOutcome is a refresh's outcome word for Observer.Refreshed.
func refreshOutcome(grace bool, err error) string {
	switch {
	case err == nil && grace:
		return "grace"
	case err == nil:
		return "ok"
	case errors.Is(err, errReuse):
		return "reused"
	case errors.Is(err, ErrRefreshTokenInvalid), errors.Is(err, ErrRefreshTokenRequired):
		return "invalid"
	case errors.Is(err, ErrBanned):
		return "banned"
	case errors.Is(err, ErrUserNotFound):
		return "not_found"
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	}
	return "error"
}

// errReuse is the refusal of a superseded refresh token presented after the grace window: an
// ErrRefreshTokenInvalid to the client, told apart for Observer.Refreshed.
var errReuse = fmt.Errorf("%w: superseded refresh token presented again", ErrRefreshTokenInvalid)

// refresh is Refresh; grace reports a retry within the grace window, answered with the pair issued before.
func (m *Manager) refresh(ctx context.Context, refreshToken string, vars map[string]string, meta Meta) (_ Issued, grace bool, _ error) {
	if refreshToken == "" {
		return Issued{}, false, ErrRefreshTokenRequired
	}
	now := m.clock().UTC()
	rc, err := m.rkeys.Verify(refreshToken, now.Unix())
	if err != nil || !m.ownStore(rc) {
		return Issued{}, false, ErrRefreshTokenInvalid
	}
	if len(vars) == 0 {
		vars = rc.Vars
	}
	vars = cloneVars(vars)
	// The account comes first, so that a banned player (whose sessions the ban ended) is told why.
	u, err := m.accts.UserByID(ctx, rc.UserID)
	if (err != nil || u.Banned()) && m.cached {
		u, err = m.users.UserByID(ctx, rc.UserID) // a cache may be behind: decide on the store
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Issued{}, false, err
	}
	if err != nil || u.Banned() || m.deny.Denies(rc) {
		return Issued{}, false, m.refusal(ctx, rc)
	}
	// Two attempts: a refresh that loses a race with another refresh of the same token re-reads the
	// session and is then served as a retry within the grace window.
	for attempt := 0; ; attempt++ {
		s, err := m.session(ctx, u, rc, meta, now)
		if errors.Is(err, storage.ErrNotFound) {
			return Issued{}, false, ErrRefreshTokenInvalid
		}
		if err != nil {
			return Issued{}, false, err
		}
		if s.UserID != rc.UserID {
			return Issued{}, false, ErrRefreshTokenInvalid
		}
		if s.Revoked() {
			return Issued{}, false, m.refusal(ctx, rc) // a ban the cached account does not show yet is told as one
		}
		if is, ok := m.refreshInPlace(s, u, rc, vars, now); ok {
			m.record(ctx, storage.Event{Time: now, Kind: storage.EventSessionRefreshed, UserID: u.ID, SessionID: s.ID, ClientIP: meta.ClientIP})
			return is, false, nil
		}
		expect := storage.AnySeq
		if m.cfg.Rotation {
			switch {
			case rc.RefreshSeq == s.RefreshSeq:
				expect = s.RefreshSeq
			case rc.RefreshSeq == s.RefreshSeq-1 && !now.After(s.RefreshTime.Add(m.cfg.ReuseGrace)):
				return m.pairAt(s, u, rc.IssuedAt), true, nil
			case rc.RefreshSeq < s.RefreshSeq:
				return Issued{}, false, m.reuseDetected(ctx, s, rc.RefreshSeq, meta)
			default: // from the future: not a token this server issued for the session
				return Issued{}, false, ErrRefreshTokenInvalid
			}
		}
		exp := now.Add(m.cfg.TokenExpiry).Unix()
		rexp := now.Add(m.cfg.RefreshExpiry).Unix()
		until := max(exp, rexp)
		if !m.cfg.Rotation {
			until += int64(m.refreshSlack() / time.Second) // so that the next refreshes need not write
		}
		ns, err := m.store.RefreshSession(ctx, storage.SessionRefresh{
			ID: s.ID, ExpectSeq: expect, RefreshTime: now, ExpireTime: time.Unix(until, 0).UTC(), Vars: vars,
		})
		if errors.Is(err, storage.ErrConflict) && m.cfg.Rotation && attempt == 0 {
			continue // another refresh of this token won, or the session ended: decide on a fresh read
		}
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			return Issued{}, false, ErrRefreshTokenInvalid
		}
		if err != nil {
			return Issued{}, false, err
		}
		m.record(ctx, storage.Event{Time: now, Kind: storage.EventSessionRefreshed, UserID: u.ID, SessionID: s.ID, ClientIP: meta.ClientIP})
		return m.pairAt(ns, u, rc.IssuedAt), false, nil
	}
}

// refreshSlack is how far past its tokens' expiry a refresh without rotation moves a session's stored
// expiry, a quarter of the refresh lifetime: the refreshes that follow within that time write nothing (see
// refreshInPlace).
func (m *Manager) refreshSlack() time.Duration { return m.cfg.RefreshExpiry / 4 }

// refreshInPlace answers a refresh without writing to the store when nothing the store holds would change
// but the refresh time: rotation is off (so there is no refresh count to move), the variables stay the
// same, and the session's stored expiry already covers the new tokens. That expiry is what a revocation
// of the session (or a cut of its account) keeps its tokens denied until, so the tokens issued here stay
// covered; a refresh that finds it short writes it with refreshSlack to spare. The session's refresh time
// then stays that of the last refresh that wrote. s is the session as just read, live.
func (m *Manager) refreshInPlace(s *storage.Session, u *storage.User, rc tokens.Claims, vars map[string]string, now time.Time) (Issued, bool) {
	if m.cfg.Rotation || !sameVars(vars, s.Vars) {
		return Issued{}, false
	}
	exp := now.Add(m.cfg.TokenExpiry).Unix()
	rexp := now.Add(m.cfg.RefreshExpiry).Unix()
	if s.ExpireTime.Unix() < max(exp, rexp) {
		return Issued{}, false
	}
	c := tokens.Claims{
		TokenID: s.ID, UserID: u.ID, Username: u.Username, Vars: s.Vars, ExpiresAt: exp, IssuedAt: rc.IssuedAt,
		StoreID: m.storeID, Generation: s.Generation,
	}
	return m.sign(c, rexp, 0), true
}

func sameVars(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// refusal decides why a refresh is refused, on the account read afresh from the store: the account is
// gone (ErrUserNotFound, or ErrRefreshTokenInvalid for a session that ended with it, as Nakama answers) or
// banned (ErrBanned), or else the session has ended (ErrRefreshTokenInvalid).
func (m *Manager) refusal(ctx context.Context, rc tokens.Claims) error {
	u, err := m.users.UserByID(ctx, rc.UserID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if m.deny.Denies(rc) || m.adoptable(rc) {
			return ErrRefreshTokenInvalid
		}
		return ErrUserNotFound
	case err != nil:
		return err
	case u.Banned():
		return ErrBanned
	}
	return ErrRefreshTokenInvalid
}

// ErrExpiryInPast refuses a token whose requested expiry is not in the future.
var ErrExpiryInPast = errors.New("token expiry must be in the future")

// Generate issues a session token for server code (runtime AuthenticateTokenGenerate): a session of its
// own, stored like any login so that it validates everywhere and can be logged out, with a session token
// and no refresh token, as in Nakama. exp 0 means the configured lifetime; otherwise the Unix second the
// token expires.
func (m *Manager) Generate(ctx context.Context, user *storage.User, exp int64, vars map[string]string) (Issued, error) {
	now := m.clock().UTC()
	if exp == 0 {
		exp = now.Add(m.cfg.TokenExpiry).Unix()
	}
	if exp <= now.Unix() {
		return Issued{}, ErrExpiryInPast
	}
	c, err := m.start(ctx, user, now, exp, vars, Meta{}, "server code")
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: m.skeys.Sign(&c), Claims: c}, nil
}

// reuseDetected ends a session whose superseded refresh token came back after the grace window.
func (m *Manager) reuseDetected(ctx context.Context, s *storage.Session, presented int64, meta Meta) error {
	m.log.Warn("refresh token reuse detected; session revoked", "user_id", s.UserID, "session_id", s.ID,
		"presented_seq", presented, "current_seq", s.RefreshSeq)
	if m.obs != nil {
		m.obs.ReuseDetected()
	}
	if err := m.revoke(ctx, s.UserID, s.ID, storage.EventRefreshReuse,
		fmt.Sprintf("refresh token %d presented after %d", presented, s.RefreshSeq), meta.ClientIP); err != nil {
		return err
	}
	return errReuse
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
// tokens.ErrExpired, ErrRevoked or ErrOtherStore (which is also ErrRevoked). With ErrRevoked alone the
// token's claims, which did verify, come back too, so that the caller can say why the session ended.
func (m *Manager) Validate(token string) (tokens.Claims, error) {
	c, err := m.skeys.Verify(token, m.clock().Unix())
	if err != nil {
		return tokens.Claims{}, err
	}
	if !m.ownStore(c) {
		return tokens.Claims{}, ErrOtherStore
	}
	if m.deny.Denies(c) {
		return c, ErrRevoked
	}
	return c, nil
}

// ownStore reports whether a verified token may belong to this manager's store: its sid claim names the
// store, or it has none. Tokens without one are Nakama's or older Latchkey versions', which a studio moving
// to Latchkey (or upgrading it) needs to keep working until they expire.
func (m *Manager) ownStore(c tokens.Claims) bool {
	return c.StoreID == "" || c.StoreID == m.storeID || m.storeID == ""
}

// Logout ends sessions of the caller, whose own session is callerSession.
//
// With ScopeNakama (no scope), the body's tokens decide, as in Nakama: a session token or refresh token
// named must verify and belong to the caller, and naming either ends its whole session (both tokens die);
// with neither named, every session of the caller ends. ScopeCurrent ends the calling session, ScopeOthers
// every other session of the caller, ScopeAll every session; tokens named alongside a scope are checked
// and their sessions ended too.
func (m *Manager) Logout(ctx context.Context, caller tokens.Claims, token, refreshToken, scope string, meta Meta) error {
	switch scope {
	case ScopeNakama, ScopeCurrent, ScopeOthers, ScopeAll:
	default:
		return ErrLogoutScope
	}
	now := m.clock().Unix()
	var ids []string
	if token != "" {
		c, err := m.skeys.Verify(token, now)
		if err != nil || c.UserID != caller.UserID || !m.ownStore(c) {
			return ErrLogoutTokenInvalid
		}
		ids = append(ids, c.TokenID)
	}
	if refreshToken != "" {
		c, err := m.rkeys.Verify(refreshToken, now)
		if err != nil || c.UserID != caller.UserID || !m.ownStore(c) {
			return ErrLogoutRefreshInvalid
		}
		if len(ids) == 0 || ids[0] != c.TokenID {
			ids = append(ids, c.TokenID)
		}
	}
	reason := "logout"
	if scope != ScopeNakama {
		reason = "logout " + scope
	}
	switch {
	case scope == ScopeAll || (scope == ScopeNakama && len(ids) == 0):
		_, err := m.RevokeUser(ctx, caller.UserID, "", storage.EventLoggedOut, "logout all", meta.ClientIP)
		return err
	case scope == ScopeOthers:
		// Tokens named in the body are the caller's (checked above), so their sessions end with the others.
		_, err := m.RevokeUser(ctx, caller.UserID, caller.TokenID, storage.EventLoggedOut, reason, meta.ClientIP)
		return err
	case scope == ScopeCurrent:
		ids = append(ids, caller.TokenID)
	}
	for _, id := range ids {
		if err := m.revoke(ctx, caller.UserID, id, storage.EventLoggedOut, reason, meta.ClientIP); err != nil {
			return err
		}
	}
	return nil
}

// List returns at most limit of the user's live sessions, newest first, from the position cursor names
// (the start when empty), and the cursor of the next page, empty when there is none. A cursor List did not
// make is ErrCursorInvalid.
func (m *Manager) List(ctx context.Context, userID, cursor string, limit int) ([]storage.Session, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit < 1 {
		return nil, "", nil
	}
	// One more than asked tells whether another page follows, so that the last page has no cursor.
	list, err := m.store.ListUserSessions(ctx, userID, m.clock().UTC(), after, limit+1)
	if err != nil || len(list) <= limit {
		return list, "", err
	}
	list = list[:limit]
	last := list[limit-1]
	return list, encodeCursor(storage.SessionCursor{CreateTime: last.CreateTime, ID: last.ID}), nil
}

// encodeCursor writes a list position as "MILLIS:ID" in unpadded base64url, which the client treats as
// opaque.
func encodeCursor(c storage.SessionCursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s", c.CreateTime.UnixMilli(), c.ID))
}

func decodeCursor(s string) (storage.SessionCursor, error) {
	if s == "" {
		return storage.SessionCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return storage.SessionCursor{}, ErrCursorInvalid
	}
	ms, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return storage.SessionCursor{}, ErrCursorInvalid
	}
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return storage.SessionCursor{}, ErrCursorInvalid
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return storage.SessionCursor{}, ErrCursorInvalid
	}
	return storage.SessionCursor{CreateTime: time.UnixMilli(t).UTC(), ID: id}, nil
}

// End ends one live session of the user at the user's request (DELETE /v2/account/sessions/{id}),
// recorded as logged_out. A session that does not exist, is another user's or has already ended is
// ErrSessionNotFound, so that ids cannot be probed.
func (m *Manager) End(ctx context.Context, userID, sessionID string, meta Meta) error {
	return m.endLive(ctx, userID, sessionID, storage.EventLoggedOut, "session deleted", meta.ClientIP)
}

// RevokeSession ends one live session of the user for server code or an administrator, recorded as
// session_revoked with reason; ErrSessionNotFound as End.
func (m *Manager) RevokeSession(ctx context.Context, userID, sessionID, reason string) error {
	return m.endLive(ctx, userID, sessionID, storage.EventSessionRevoked, reason, "")
}

func (m *Manager) endLive(ctx context.Context, userID, sessionID string, kind storage.EventKind, reason, clientIP string) error {
	if _, err := m.LiveSession(ctx, userID, sessionID); err != nil {
		return err
	}
	return m.revoke(ctx, userID, sessionID, kind, reason, clientIP)
}

// LiveSession reads the user's session sessionID from the store; one that does not exist, is another
// user's or has ended (an account cut included) is ErrSessionNotFound.
func (m *Manager) LiveSession(ctx context.Context, userID, sessionID string) (*storage.Session, error) {
	s, err := m.store.SessionByID(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	if s.UserID != userID || s.Revoked() || !s.ExpireTime.After(m.clock()) {
		return nil, ErrSessionNotFound
	}
	return s, nil
}

// Revoke ends one session by id alone, whoever's it is. Ending an ended or unknown session is not an error.
// Callers that act for a user use RevokeSession, which checks the session is that user's.
func (m *Manager) Revoke(ctx context.Context, sessionID, reason string) error {
	s, err := m.store.SessionByID(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return m.revoke(ctx, s.UserID, sessionID, storage.EventSessionRevoked, reason, "")
}

// revoke ends one session and records why.
func (m *Manager) revoke(ctx context.Context, userID, sessionID string, kind storage.EventKind, reason, clientIP string) error {
	at := m.clock().UTC()
	rev, err := m.store.RevokeSession(ctx, sessionID, reason, at)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case rev != nil:
		m.denied(false, *rev)
		m.observeRevoked(kind, reason, 1)
		m.record(ctx, storage.Event{Time: at, Kind: kind, UserID: userID, SessionID: sessionID, ClientIP: clientIP, Reason: reason})
	}
	return nil
}

// RevokeUser ends every live session of a user except keep (when not empty) with one account cut, records
// one event of the given kind for the account, and returns how many sessions it ended. Its cost, in the
// store and in every node's denylist, does not depend on how many sessions the account has.
func (m *Manager) RevokeUser(ctx context.Context, userID, keep string, kind storage.EventKind, reason, clientIP string) (int, error) {
	at := m.clock().UTC()
	rev, n, err := m.store.RevokeUserSessions(ctx, userID, keep, reason, at)
	if err != nil || rev == nil {
		return 0, err
	}
	m.denied(false, *rev)
	m.observeRevoked(kind, reason, n)
	m.record(ctx, storage.Event{Time: at, Kind: kind, UserID: userID, ClientIP: clientIP, Reason: fmt.Sprintf("%s (%d sessions)", reason, n)})
	return n, nil
}

// observeRevoked tells the observer of n sessions ended with an event of kind for reason, which it names
// with one word of a fixed set: reason is free text that server code and administrators choose.
func (m *Manager) observeRevoked(kind storage.EventKind, reason string, n int) {
	if m.obs == nil || n == 0 {
		return
	}
	label := "other"
	switch {
	case kind == storage.EventRefreshReuse:
		label = "refresh_reuse"
	case kind == storage.EventLoggedOut && reason == "session deleted":
		label = "session_deleted"
	case kind == storage.EventLoggedOut:
		label = "logout"
	case reason == "single_session", reason == "ban":
		label = reason
	case reason == capReason:
		label = "session_cap"
	case reason == "account deleted":
		label = "account_deleted"
	}
	m.obs.Revoked(label, n)
}

// Ban disables the account and ends all its sessions at once: on this node immediately, on every other
// node through the revocation feed. Banning a banned account ends any session it still has.
func (m *Manager) Ban(ctx context.Context, userID, reason string) (int, error) {
	at := m.clock().UTC()
	if err := m.users.SetDisableTime(ctx, userID, at); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return 0, ErrUserNotFound
		}
		return 0, err
	}
	m.changed(userID)
	m.record(ctx, storage.Event{Time: at, Kind: storage.EventUserBanned, UserID: userID, Reason: reason})
	for _, fn := range m.onEnd {
		fn(ctx, userID, at, "ban")
	}
	return m.RevokeUser(ctx, userID, "", storage.EventSessionRevoked, "ban", "")
}

// EndAccount ends every session of an account that is being deleted, at once on this node and through the
// revocation feed on every other, and records why. The caller deletes the account afterwards; ending the
// sessions first means a failed deletion leaves no usable token behind, and a retry is safe.
//
// The account is disabled first, as a ban does, so that no login can start a session between the
// revocation and the deletion (such a session would be deleted without a revocation, leaving its token
// valid until it expires).
func (m *Manager) EndAccount(ctx context.Context, userID, reason string) error {
	at := m.clock().UTC()
	if err := m.users.SetDisableTime(ctx, userID, at); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return ErrUserNotFound
		}
		return err
	}
	m.changed(userID)
	for _, fn := range m.onEnd {
		fn(ctx, userID, at, "account deleted")
	}
	if _, err := m.RevokeUser(ctx, userID, "", storage.EventSessionRevoked, "account deleted", ""); err != nil {
		return err
	}
	m.record(ctx, storage.Event{Time: at, Kind: storage.EventAccountDeleted, UserID: userID, Reason: reason})
	return nil
}

// DeleteAccount deletes the account with its identities, devices and sessions, after ending its sessions
// with EndAccount; reason is recorded with the account_deleted event. An unknown account is
// ErrUserNotFound. The player's REST call, server code's AccountDeleteId, the admin API and `latchkey users
// delete` all delete through it.
func (m *Manager) DeleteAccount(ctx context.Context, userID, reason string) error {
	if err := m.EndAccount(ctx, userID, reason); err != nil {
		return err
	}
	err := m.users.DeleteUser(ctx, userID)
	m.changed(userID) // even on error: a failure after the delete must not leave a stale cache entry
	if errors.Is(err, storage.ErrNotFound) {
		return ErrUserNotFound // deleted meanwhile
	}
	return err
}

// Unban enables the account again; its old sessions stay ended, so the player logs in afresh.
func (m *Manager) Unban(ctx context.Context, userID, reason string) error {
	if err := m.users.SetDisableTime(ctx, userID, time.Time{}); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return ErrUserNotFound
		}
		return err
	}
	m.changed(userID)
	m.record(ctx, storage.Event{Time: m.clock().UTC(), Kind: storage.EventUserUnbanned, UserID: userID, Reason: reason})
	return nil
}

// Events returns the user's security events, newest first; before > 0 pages backwards from that id.
func (m *Manager) Events(ctx context.Context, userID string, before int64, limit int) ([]storage.Event, error) {
	if m.evs == nil {
		return nil, nil
	}
	return m.evs.ListEvents(ctx, userID, before, limit)
}

// record appends security events, the high-volume kinds through the sampler. The event log is an audit
// trail, not part of the operation: failing to write it is logged and does not undo or fail what happened.
func (m *Manager) record(ctx context.Context, evs ...storage.Event) {
	if m.evs == nil || len(evs) == 0 {
		return
	}
	m.write(ctx, m.sampled(evs))
}

// sampled returns the events to write of evs, the high-volume kinds through the sampler (with any
// summaries it says are due).
func (m *Manager) sampled(evs []storage.Event) []storage.Event {
	if m.sample == nil {
		return evs
	}
	kept := make([]storage.Event, 0, len(evs))
	for _, ev := range evs {
		if !sampledKind(ev.Kind) {
			kept = append(kept, ev)
			continue
		}
		ok, due := m.sample.admit(ev)
		kept = append(kept, due...)
		if ok {
			kept = append(kept, ev)
		}
	}
	return kept
}

// write appends security events as they are.
func (m *Manager) write(ctx context.Context, evs []storage.Event) {
	if len(evs) == 0 {
		return
	}
	if err := m.evs.AppendEvents(context.WithoutCancel(ctx), evs...); err != nil {
		m.log.Warn("recording security events failed", "kind", evs[0].Kind, "user_id", evs[0].UserID, "count", len(evs), "err", err)
	}
}

// Load reads the store's id, which the tokens it issues carry and the tokens it accepts must carry if they
// name a store, and fills the denylist from the store's revocation feed; call it once before serving.
func (m *Manager) Load(ctx context.Context) error {
	id, err := m.store.StoreID(ctx)
	if err != nil {
		return err
	}
	m.storeID = id
	return m.catchUp(ctx)
}

// StoreID returns the id of the store whose tokens the manager accepts, "" before Load.
func (m *Manager) StoreID() string { return m.storeID }

// catchUp applies every feed entry after the denylist's watermark.
func (m *Manager) catchUp(ctx context.Context) error {
	const page = 1000
	for {
		revs, err := m.store.RevocationsSince(ctx, m.deny.Seq(), m.clock().UTC(), page)
		if err != nil {
			return err
		}
		m.denied(true, revs...)
		if len(revs) < page {
			m.feedRead.Store(int64(time.Since(m.born)))
			return nil
		}
	}
}

// FeedReadAt returns when this node last read the revocation feed to its end: at Load, then at every
// catch-up Follow makes. A node whose last read is old may be letting through tokens another node
// revoked since, which is what a readiness check looks at. The time is the machine's, not Deps.Clock's.
func (m *Manager) FeedReadAt() time.Time {
	return m.born.Add(time.Duration(m.feedRead.Load()))
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
			m.flushEvents()
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
			m.cleanUp(ctx, now.UTC())
			lastPrune = now
		}
	}
}

// sessionRetention is how long an ended session's row is kept. No token of a session can be valid after
// its ExpireTime; the row is kept a day longer for administrators looking into an incident.
const sessionRetention = 24 * time.Hour

// DefaultEventRetention is how long security events are kept when Config.EventRetention is 0.
const DefaultEventRetention = 90 * 24 * time.Hour

// cleanUp deletes what retention no longer needs. Every node runs it; the deletes are idempotent.
func (m *Manager) cleanUp(ctx context.Context, now time.Time) {
	if n, err := m.store.DeleteExpiredSessions(ctx, now.Add(-sessionRetention)); err != nil {
		m.log.Warn("deleting expired sessions failed", "err", err)
	} else if n > 0 {
		m.log.Debug("deleted expired sessions", "count", n)
	}
	if m.evs == nil {
		return
	}
	if m.sample != nil {
		m.write(ctx, m.sample.sweep(now, false))
	}
	if _, err := m.evs.DeleteEventsBefore(ctx, now.Add(-m.eventRetention())); err != nil {
		m.log.Warn("deleting old security events failed", "err", err)
	}
}

// flushEvents writes the summaries of every sampling window still open, when the node stops following.
func (m *Manager) flushEvents() {
	if m.evs == nil || m.sample == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.write(ctx, m.sample.sweep(m.clock().UTC(), true))
}

func (m *Manager) eventRetention() time.Duration {
	if m.cfg.EventRetention > 0 {
		return m.cfg.EventRetention
	}
	return DefaultEventRetention
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
