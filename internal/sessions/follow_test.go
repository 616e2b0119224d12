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
	return New(Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour}, Deps{
		Store: st, Users: st, SessionKeys: skeys, RefreshKeys: rkeys, Clock: func() time.Time { return now },
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
