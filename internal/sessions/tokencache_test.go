package sessions

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// The session keyring remembers the tokens it verified (tokens.Keyring.Verify), so a session's requests
// after its first skip the signature. These tests check that the cache never outlives a revocation or the
// token itself: Validate consults the denylist and the expiry on every call, hit or not.

// cachingNodes returns two managers on one fresh SQLite store, as two server processes, both on clock.
func cachingNodes(t *testing.T, clock func() time.Time) (a, b *Manager, user *storage.User) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/cache.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	node := func() *Manager {
		skeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("session-key-for-tests-0123456789")})
		rkeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("refresh-key-for-tests-0123456789")})
		m := New(Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour}, Deps{
			Store: st, Users: st, SessionKeys: skeys, RefreshKeys: rkeys, Clock: clock,
		})
		if err := m.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b = node(), node()
	user, err = st.CreateUser(t.Context(), storage.NewUser{
		ID: "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", Username: "a", Kind: storage.IdentityDevice, Identity: "device-a", Time: clock(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, user
}

// wantCached validates token on m until it is a cache hit, which Validate can tell only by not allocating:
// a miss allocates the claims it parses.
func wantCached(t *testing.T, name string, m *Manager, token string) {
	t.Helper()
	if _, err := m.Validate(token); err != nil {
		t.Fatalf("%s: Validate = %v", name, err)
	}
	if allocs := testing.AllocsPerRun(10, func() { m.Validate(token) }); allocs != 0 {
		t.Fatalf("%s: Validate allocates %.0f times: the token is not cached", name, allocs)
	}
}

// TestCachedTokenRevoked: a token cached on two nodes is refused by the node that ends its session right
// after, and by the other as soon as that node has read the revocation feed, for every way a session ends.
func TestCachedTokenRevoked(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		end  func(m *Manager, u *storage.User, is Issued) error
	}{
		{"logout", func(m *Manager, u *storage.User, is Issued) error {
			return m.Logout(t.Context(), is.Claims, "", "", ScopeCurrent, Meta{})
		}},
		{"revoke", func(m *Manager, u *storage.User, is Issued) error {
			return m.Revoke(t.Context(), is.Claims.TokenID, "test")
		}},
		{"logout all (an account cut)", func(m *Manager, u *storage.User, is Issued) error {
			return m.Logout(t.Context(), is.Claims, "", "", ScopeAll, Meta{})
		}},
		{"ban", func(m *Manager, u *storage.User, is Issued) error {
			_, err := m.Ban(t.Context(), u.ID, "test")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, u := cachingNodes(t, func() time.Time { return now })
			is, err := a.Issue(t.Context(), u, map[string]string{"k": "v"}, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			wantCached(t, "writer", a, is.Token)
			wantCached(t, "follower", b, is.Token)
			if err := tt.end(a, u, is); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Validate(is.Token); !errors.Is(err, ErrRevoked) {
				t.Errorf("writer, right after: Validate = %v, want ErrRevoked", err)
			}
			if _, err := a.Authenticate(is.Token); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("writer, right after: Authenticate = %v, want ErrTokenInvalid", err)
			}
			if err := b.catchUp(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Validate(is.Token); !errors.Is(err, ErrRevoked) {
				t.Errorf("follower, after its catch-up: Validate = %v, want ErrRevoked", err)
			}
		})
	}
}

// TestCachedTokenExpires: a cached token is refused from its exp on, to the second.
func TestCachedTokenExpires(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := now
	a, _, u := cachingNodes(t, func() time.Time { return clock })
	is, err := a.Issue(t.Context(), u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	wantCached(t, "at issue", a, is.Token)
	exp := time.Unix(is.Claims.ExpiresAt, 0)
	clock = exp.Add(-time.Second)
	wantCached(t, "a second before exp", a, is.Token)
	clock = exp
	if _, err := a.Validate(is.Token); !errors.Is(err, tokens.ErrExpired) {
		t.Errorf("at exp: Validate = %v, want tokens.ErrExpired", err)
	}
	clock = exp.Add(time.Hour)
	if _, err := a.Validate(is.Token); !errors.Is(err, tokens.ErrExpired) {
		t.Errorf("an hour after exp: Validate = %v, want tokens.ErrExpired", err)
	}
}

// BenchmarkAuthenticateParallel is BenchmarkAuthenticate on every core at once, over 1024 sessions'
// cached tokens: what the denylist's read lock costs when every request takes it.
func BenchmarkAuthenticateParallel(b *testing.B) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m, kr := newValidator(b, now)
	revs := make([]storage.Revocation, 100_000)
	for i := range revs {
		revs[i] = storage.Revocation{Seq: int64(i + 1), SessionID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), ExpireTime: now.Add(time.Hour)}
	}
	m.Denylist().Apply(revs...)
	toks := make([]string, 1024)
	for i := range toks {
		toks[i] = kr.Sign(&tokens.Claims{TokenID: fmt.Sprintf("%08x-9a8b-4c7d-8e6f-5a4b3c2d1e0f", i), UserID: "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11", Username: "alice", ExpiresAt: now.Unix() + 60, IssuedAt: now.Unix()})
		if _, err := m.Authenticate(toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Authenticate(toks[i&1023]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
