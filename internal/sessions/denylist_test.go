package sessions

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

func TestDenylist(t *testing.T) {
	d := NewDenylist()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d.Apply(
		storage.Revocation{Seq: 3, SessionID: "a", ExpireTime: base.Add(time.Minute)},
		storage.Revocation{Seq: 1, SessionID: "b", ExpireTime: base.Add(time.Hour)},
	)
	if !d.Revoked("a") || !d.Revoked("b") || d.Revoked("c") {
		t.Fatal("membership wrong")
	}
	if got := d.Seq(); got != 3 {
		t.Errorf("Seq = %d, want 3", got)
	}
	// A later entry for the same session can only extend its lifetime.
	d.Apply(storage.Revocation{Seq: 4, SessionID: "a", ExpireTime: base})
	if n := d.Prune(base.Add(time.Minute)); n != 0 {
		t.Errorf("pruned %d entries one second early", n)
	}
	if n := d.Prune(base.Add(time.Minute + time.Second)); n != 1 || d.Revoked("a") || !d.Revoked("b") {
		t.Errorf("prune at expiry: removed %d, a=%v b=%v", n, d.Revoked("a"), d.Revoked("b"))
	}
	if d.Len() != 1 {
		t.Errorf("Len = %d", d.Len())
	}
}

// newValidator builds a Manager with only what Validate touches: keys, clock and denylist.
func newValidator(tb testing.TB, now time.Time) (*Manager, *tokens.Keyring) {
	tb.Helper()
	kr, err := tokens.NewKeyring(tokens.Key{Secret: []byte("defaultencryptionkey")})
	if err != nil {
		tb.Fatal(err)
	}
	m := New(Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour}, Deps{SessionKeys: kr, RefreshKeys: kr, Clock: func() time.Time { return now }})
	return m, kr
}

func TestValidateReasons(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m, kr := newValidator(t, now)
	live := tokens.Claims{TokenID: "0f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f", UserID: "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11", ExpiresAt: now.Unix() + 60}
	revoked := live
	revoked.TokenID = "1f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	expired := live
	expired.ExpiresAt = now.Unix()
	m.Denylist().Apply(storage.Revocation{Seq: 1, SessionID: revoked.TokenID, ExpireTime: now.Add(time.Hour)})
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"live", kr.Sign(&live), nil},
		{"revoked", kr.Sign(&revoked), ErrRevoked},
		{"expired", kr.Sign(&expired), tokens.ErrExpired},
		{"malformed", "x.y", tokens.ErrMalformed},
	}
	for _, tt := range tests {
		_, err := m.Validate(tt.token)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.want)
		}
		_, err = m.Authenticate(tt.token)
		if (err == nil) != (tt.want == nil) || (err != nil && !errors.Is(err, ErrTokenInvalid)) {
			t.Errorf("%s: Authenticate = %v", tt.name, err)
		}
	}
}

// BenchmarkAuthenticate is the per-request cost of a bearer token: signature, claims, expiry, and the
// revocation check against a denylist of 100,000 revoked sessions.
func BenchmarkAuthenticate(b *testing.B) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m, kr := newValidator(b, now)
	revs := make([]storage.Revocation, 100_000)
	for i := range revs {
		revs[i] = storage.Revocation{Seq: int64(i + 1), SessionID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), ExpireTime: now.Add(time.Hour)}
	}
	m.Denylist().Apply(revs...)
	tok := kr.Sign(&tokens.Claims{TokenID: "0f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f", UserID: "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11", Username: "alice", ExpiresAt: now.Unix() + 60, IssuedAt: now.Unix()})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}
