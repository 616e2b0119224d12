package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// node is one Latchkey process's session manager; two nodes opened on the same database file stand for two
// servers sharing a store.
func newNode(t *testing.T, path string, now time.Time) *Manager {
	t.Helper()
	return newObservedNode(t, path, now, Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour}, nil)
}

// newObservedNode is newNode with a config and an observer.
func newObservedNode(t *testing.T, path string, now time.Time, cfg Config, obs Observer) *Manager {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	skeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("session-key-for-tests-0123456789")})
	rkeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("refresh-key-for-tests-0123456789")})
	return New(cfg, Deps{
		Store: st, Users: st, SessionKeys: skeys, RefreshKeys: rkeys, Clock: func() time.Time { return now }, Observer: obs,
	})
}

func newUser(t *testing.T, st storage.Users, username string, now time.Time) *storage.User {
	t.Helper()
	u, err := st.CreateUser(t.Context(), storage.NewUser{
		ID:       map[string]string{"a": "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", "b": "4f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"}[username],
		Username: username, Kind: storage.IdentityDevice, Identity: "device-" + username, Time: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLocalRevocationKeepsWatermark: a node that revokes a session itself must not skip feed entries that
// other nodes committed earlier and it has not read yet. Node B's own revocation gets a higher sequence than
// node A's; if adding it locally moved B's watermark, B's next catch-up would start after A's entry and B
// would accept A's logged-out token until it expired.
func TestLocalRevocationKeepsWatermark(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	path := t.TempDir() + "/shared.db"
	a, b := newNode(t, path, now), newNode(t, path, now)
	ua := newUser(t, a.users, "a", now)
	ub := newUser(t, a.users, "b", now)
	sa, err := a.Issue(ctx, ua, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Issue(ctx, ub, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}

	if err := a.Logout(ctx, sa.Claims, sa.Token, "", "", Meta{}); err != nil { // feed entry 1, written by A
		t.Fatal(err)
	}
	if err := b.Logout(ctx, sb.Claims, sb.Token, "", "", Meta{}); err != nil { // feed entry 2, written by B
		t.Fatal(err)
	}
	if _, err := b.Validate(sb.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("B's own logout: Validate = %v, want ErrRevoked at once", err)
	}
	if err := b.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Validate(sa.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("A's logout after B's catch-up: Validate = %v, want ErrRevoked", err)
	}
	if got := b.deny.Seq(); got != 2 {
		t.Errorf("B's watermark = %d, want 2", got)
	}
}

// TestFollowPolls: without a feed watcher (SQLite), Follow picks up another process's revocation within
// its polling interval.
func TestFollowPolls(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now().UTC()
	path := t.TempDir() + "/shared.db"
	a, b := newNode(t, path, now), newNode(t, path, now)
	u := newUser(t, a.users, "a", now)
	s, err := a.Issue(ctx, u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go b.Follow(ctx, 20*time.Millisecond)
	if err := a.Logout(ctx, s.Claims, s.Token, "", "", Meta{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Validate(s.Token); errors.Is(err, ErrRevoked) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("B still accepts the token 5 s after A's logout")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFeedReadAt: FeedReadAt moves on with every read of the feed to its end, and stands still while
// the feed cannot be read, which is what a readiness check measures staleness by.
func TestFeedReadAt(t *testing.T) {
	ctx := context.Background()
	m := newNode(t, t.TempDir()+"/feed.db", time.Now())
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := m.FeedReadAt()
	if age := time.Since(loaded); age < 0 || age > time.Minute {
		t.Fatalf("FeedReadAt after Load is %v old", age)
	}
	time.Sleep(2 * time.Millisecond)
	if err := m.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	read := m.FeedReadAt()
	if !read.After(loaded) {
		t.Errorf("FeedReadAt after a catch-up = %v, not after the Load's %v", read, loaded)
	}
	m.store.(*sqlite.Store).Close()
	if err := m.catchUp(ctx); err == nil {
		t.Fatal("a catch-up on a closed store succeeded")
	}
	if got := m.FeedReadAt(); !got.Equal(read) {
		t.Errorf("FeedReadAt after a failed catch-up = %v, want the last success's %v", got, read)
	}
}

// reasons is an Observer that keeps the revocation counts by reason.
type reasons map[string]int

func (r reasons) Refreshed(string)             {}
func (r reasons) ReuseDetected()               {}
func (r reasons) Revoked(reason string, n int) { r[reason] += n }

// TestRevokedReasons: every way a session ends is counted under one word of a fixed set, whatever free
// text the caller gave as the reason.
func TestRevokedReasons(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	got := reasons{}
	cfg := Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour, MaxSessions: 2}
	m := newObservedNode(t, t.TempDir()+"/reasons.db", now, cfg, got)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ua, ub := newUser(t, m.users, "a", now), newUser(t, m.users, "b", now)
	issue := func(u *storage.User) Issued {
		t.Helper()
		is, err := m.Issue(ctx, u, nil, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	issue(ua)
	s2 := issue(ua)
	issue(ua) // the cap of 2 ends the first
	if err := m.Logout(ctx, s2.Claims, s2.Token, "", "", Meta{}); err != nil {
		t.Fatal(err)
	}
	s4 := issue(ua)
	if err := m.End(ctx, ua.ID, s4.Claims.TokenID, Meta{}); err != nil {
		t.Fatal(err)
	}
	s5 := issue(ua)
	if err := m.Revoke(ctx, s5.Claims.TokenID, "a reason server code chose"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ban(ctx, ua.ID, "cheating"); err != nil { // ends the one live session left
		t.Fatal(err)
	}
	issue(ub)
	m.cfg.SingleSession = true
	issue(ub) // ends the first
	if err := m.EndAccount(ctx, ub.ID, "deleted"); err != nil {
		t.Fatal(err)
	}
	want := reasons{"session_cap": 1, "logout": 1, "session_deleted": 1, "other": 1, "ban": 1, "single_session": 1, "account_deleted": 1}
	if len(got) != len(want) {
		t.Errorf("reasons = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
