package sessions

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
		c, err := m.Validate(tt.token)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.want)
		}
		// A revoked token's verified claims come back with the error, so that the caller can name the account.
		if (tt.want == nil || tt.want == ErrRevoked) && c.UserID != live.UserID {
			t.Errorf("%s: Validate returned user %q, want %q", tt.name, c.UserID, live.UserID)
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

// TestDenylistConcurrent reads the denylist from several goroutines while entries are added and pruned:
// an entry is seen by every reader once its Add has returned, until it expires, and a session never
// revoked is never denied. Run it with -race.
func TestDenylistConcurrent(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDenylist()
	const n = 2000
	session := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }
	user := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-00000000000f", i) }
	var added atomic.Int64 // entries 0..added-1 of each kind are in the denylist
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			// Each long-lived entry comes with a short-lived one, which Prune below removes.
			d.Add(
				storage.Revocation{SessionID: session(i), ExpireTime: now.Add(time.Hour)},
				storage.Revocation{SessionID: session(n + i), ExpireTime: now.Add(-time.Hour)},
			)
			d.Apply(
				storage.Revocation{Seq: int64(i + 1), UserID: user(i), Generation: 2, ExpireTime: now.Add(time.Hour)},
				storage.Revocation{Seq: int64(i + 1), UserID: user(n + i), Generation: 2, ExpireTime: now.Add(-time.Hour)},
			)
			added.Store(int64(i + 1))
		}
	})
	wg.Go(func() {
		for added.Load() < n {
			d.Prune(now)
		}
	})
	for range 2 {
		wg.Go(func() {
			for added.Load() < n {
				k := int(added.Load())
				if d.Seq() < int64(k) {
					t.Errorf("Seq = %d after %d entries were applied", d.Seq(), k)
					return
				}
				for i := max(0, k-50); i < k; i++ {
					if !d.Denies(tokens.Claims{TokenID: session(i), UserID: "free"}) {
						t.Errorf("revoked session %d not denied", i)
						return
					}
					if !d.Denies(tokens.Claims{TokenID: "live", UserID: user(i), Generation: 1}) {
						t.Errorf("session of cut account %d not denied", i)
						return
					}
					if d.Denies(tokens.Claims{TokenID: "live", UserID: user(i), Generation: 2}) {
						t.Errorf("session after the cut of account %d denied", i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	d.Prune(now)
	if got := d.Len(); got != 2*n {
		t.Errorf("Len = %d after pruning, want %d", got, 2*n)
	}
	if got := d.Seq(); got != n {
		t.Errorf("Seq = %d, want %d", got, n)
	}
}

// TestDenyNoAlloc: the check every request makes allocates nothing, with and without account cuts.
func TestDenyNoAlloc(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDenylist()
	c := tokens.Claims{TokenID: "0f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f", UserID: "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11", Generation: 1}
	check := func(want bool) {
		t.Helper()
		if got := d.Denies(c); got != want {
			t.Fatalf("Denies = %v, want %v", got, want)
		}
		if allocs := testing.AllocsPerRun(100, func() { d.Denies(c) }); allocs != 0 {
			t.Errorf("Denies allocates %.0f times", allocs)
		}
	}
	check(false)
	d.Add(storage.Revocation{UserID: "other", Generation: 5, ExpireTime: now})
	check(false)
	d.Add(storage.Revocation{UserID: c.UserID, Generation: 2, ExpireTime: now})
	check(true)
}

// newBenchDenylist returns a denylist of 100,000 revoked sessions and 1,000 account cuts, and 1024 live
// tokens' claims, none of them denied.
func newBenchDenylist(b *testing.B) (*Denylist, []tokens.Claims) {
	b.Helper()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDenylist()
	revs := make([]storage.Revocation, 100_000, 101_000)
	for i := range revs {
		revs[i] = storage.Revocation{Seq: int64(i + 1), SessionID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), ExpireTime: now.Add(time.Hour)}
	}
	for i := range 1000 {
		revs = append(revs, storage.Revocation{Seq: int64(len(revs) + 1), UserID: fmt.Sprintf("%08x-1b7b-4bd8-8a6c-1f5b9a0e8d11", i), Generation: 1, ExpireTime: now.Add(time.Hour)})
	}
	d.Apply(revs...)
	live := make([]tokens.Claims, 1024)
	for i := range live {
		live[i] = tokens.Claims{TokenID: fmt.Sprintf("%08x-9a8b-4c7d-8e6f-5a4b3c2d1e0f", i), UserID: fmt.Sprintf("%08x-1b7b-4bd8-8a6c-1f5b9a0e8d11", i), Generation: 1}
		if i%2 == 0 {
			live[i].UserID = fmt.Sprintf("%08x-0000-4bd8-8a6c-1f5b9a0e8d11", i) // an account never cut
		} else {
			live[i].Generation = 2 // a session started after its account's cut
		}
		if d.Denies(live[i]) {
			b.Fatalf("live token %d denied", i)
		}
	}
	return d, live
}

// BenchmarkDenies is the denylist check alone, on one core.
func BenchmarkDenies(b *testing.B) {
	d, live := newBenchDenylist(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d.Denies(live[i&1023]) {
			b.Fatal("denied")
		}
		i++
	}
}

// BenchmarkDeniesParallel is the denylist check on every core at once: over 1024 sessions, and over one
// session (every request of one busy client), which would put every core on one shard of a sharded lock.
func BenchmarkDeniesParallel(b *testing.B) {
	d, live := newBenchDenylist(b)
	for _, bb := range []struct {
		name string
		mask int
	}{{"sessions=1024", 1023}, {"sessions=1", 0}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if d.Denies(live[i&bb.mask]) {
						b.Error("denied")
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkDenylistAdd is the cost of ending one session (a logout) in a denylist of 100,000 revoked
// sessions and 1,000 account cuts. Each Add changes an entry: it ends a session whose entry ends later
// than the one already there.
func BenchmarkDenylistAdd(b *testing.B) {
	d, _ := newBenchDenylist(b)
	exp := time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-00000000000e", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Add(storage.Revocation{SessionID: ids[i&4095], ExpireTime: exp.Add(time.Duration(i) * time.Second)})
		i++
	}
}
