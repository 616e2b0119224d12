package tokens

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// claimsN returns distinct session claims, numbered by i.
func claimsN(i int) Claims {
	return Claims{TokenID: fmt.Sprintf("%08x-9a8b-4c7d-8e6f-5a4b3c2d1e0f", i), UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore, Generation: 3}
}

func TestCacheHit(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	want := sampleClaims()
	tok := kr.Sign(&want)
	if _, e := kr.cache.lookup(tok); e != nil {
		t.Fatal("a token never verified is cached")
	}
	first, err := kr.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, e := kr.cache.lookup(tok); e == nil {
		t.Fatal("a verified token is not cached")
	}
	second, err := kr.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, want) || !reflect.DeepEqual(second, want) {
		t.Errorf("claims: miss %+v, hit %+v, want %+v", first, second, want)
	}
	allocs := testing.AllocsPerRun(100, func() { kr.Verify(tok, now) })
	if allocs != 0 {
		t.Errorf("a hit allocates %.0f times, want 0", allocs)
	}
}

// TestCacheExpiry checks that a cached token is refused from its exp on, exactly as without the cache, and
// that a token that did not verify is never cached.
func TestCacheExpiry(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := claimsN(1)
	tok := kr.Sign(&c)
	if _, err := kr.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{now + 59, now + 60, now + 61, now + 1e6, now - 1e6} {
		got, err := kr.Verify(tok, at)
		wantC, wantErr := kr.verify(tok, at)
		if !errors.Is(err, wantErr) || !reflect.DeepEqual(got, wantC) {
			t.Errorf("at exp%+d: cached %+v, %v; uncached %+v, %v", at-c.ExpiresAt, got, err, wantC, wantErr)
		}
		if expired := at >= c.ExpiresAt; expired != errors.Is(err, ErrExpired) {
			t.Errorf("at exp%+d: Verify = %v", at-c.ExpiresAt, err)
		}
	}

	late := claimsN(2)
	lateTok := kr.Sign(&late)
	if _, err := kr.Verify(lateTok, late.ExpiresAt); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: Verify = %v", err)
	}
	if _, e := kr.cache.lookup(lateTok); e != nil {
		t.Error("a token that was expired when verified is cached")
	}
}

// TestCacheKeyRemoved checks that a token cached by one keyring is refused by the keyring that replaces it
// without its key: a rotation builds a new keyring, and a new keyring has its own, empty cache.
func TestCacheKeyRemoved(t *testing.T) {
	k1 := Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	k2 := Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
	c := claimsN(1)
	old := mustKeyring(t, k2, k1)
	byK1 := mustKeyring(t, k1).Sign(&c)
	for range 2 {
		if _, err := old.Verify(byK1, now); err != nil {
			t.Fatalf("before the rotation: %v", err)
		}
	}
	if _, e := old.cache.lookup(byK1); e == nil {
		t.Fatal("not cached before the rotation")
	}
	rotated := mustKeyring(t, k2)
	if _, err := rotated.Verify(byK1, now); !errors.Is(err, ErrSignature) {
		t.Errorf("removed key: Verify = %v, want ErrSignature", err)
	}
}

// TestCacheTampered checks that no alteration of a cached token's bytes finds its entry: each one is
// verified in full and refused.
func TestCacheTampered(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := sampleClaims()
	tok := kr.Sign(&c)
	if _, err := kr.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	variants := []string{tok[:len(tok)-1], tok + "A", tok + ".", " " + tok, tok[1:], strings.ToUpper(tok)}
	for i := range len(tok) {
		for _, b := range []byte{tok[i] ^ 1, tok[i] ^ 0x20, '.'} {
			variants = append(variants, tok[:i]+string(b)+tok[i+1:])
		}
	}
	for _, v := range variants {
		if v == tok {
			continue
		}
		if _, e := kr.cache.lookup(v); e != nil {
			t.Fatalf("altered token %q hits the cache", v)
		}
		// Flipping the low bit of the last signature character can leave the decoded MAC the same; the
		// non-canonical encoding is refused all the same.
		if _, err := kr.Verify(v, now); err == nil {
			t.Fatalf("altered token %q verified", v)
		}
	}
	if n := kr.cache.len(); n != 1 {
		t.Errorf("cache holds %d tokens, want 1", n)
	}
}

// TestCacheBound checks that the cache never holds more tokens than its slots nor more bytes than its
// budget, however many distinct tokens verify, and that what it holds stays right.
func TestCacheBound(t *testing.T) {
	tests := []struct {
		name   string
		slots  int
		budget int64
	}{
		{"slots", 64, 1 << 30},
		{"budget", 1024, 20 * 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
			kr.cache = newVerifiedCache(tt.slots, tt.budget)
			toks := make([]string, 5000)
			for i := range toks {
				c := claimsN(i)
				toks[i] = kr.Sign(&c)
				if _, err := kr.Verify(toks[i], now); err != nil {
					t.Fatal(err)
				}
				if n := kr.cache.len(); n > tt.slots {
					t.Fatalf("after %d tokens the cache holds %d, more than its %d slots", i+1, n, tt.slots)
				}
				if b := kr.cache.bytes.Load(); b > tt.budget {
					t.Fatalf("after %d tokens the cache holds %d bytes, more than its budget of %d", i+1, b, tt.budget)
				}
			}
			var sum int64
			table := *kr.cache.table.Load()
			for j := range table {
				for i := range table[j].entries {
					if e := table[j].entries[i].Load(); e != nil {
						sum += e.cost
					}
				}
			}
			if got := kr.cache.bytes.Load(); got != sum {
				t.Errorf("byte count %d, entries' costs add up to %d", got, sum)
			}
			for i, tok := range toks {
				got, err := kr.Verify(tok, now)
				if want := claimsN(i); err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("token %d after churn: %+v, %v", i, got, err)
				}
			}
			if kr.cache.len() == 0 {
				t.Error("the cache holds nothing")
			}
		})
	}
}

// TestCacheHalfFull checks the hit rate the sets give: with as many distinct tokens as half its slots, a
// keyring's cache holds more than 98% of them (99.2% expected: the rest found their set full).
func TestCacheHalfFull(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	toks := make([]string, cacheSlots/2)
	for i := range toks {
		c := claimsN(i)
		toks[i] = kr.Sign(&c)
		kr.Verify(toks[i], now)
	}
	held := 0
	for _, tok := range toks {
		if _, e := kr.cache.lookup(tok); e != nil {
			held++
		}
	}
	if held*100 < len(toks)*98 {
		t.Errorf("the cache holds %d of %d tokens", held, len(toks))
	}
	t.Logf("the cache holds %d of %d tokens (%.2f%%)", held, len(toks), float64(held)*100/float64(len(toks)))
}

// TestCacheTokenTooLong checks that a token longer than cacheMaxToken verifies every time, uncached.
func TestCacheTokenTooLong(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := claimsN(1)
	c.Vars = map[string]string{"blob": strings.Repeat("x", cacheMaxToken)}
	tok := kr.Sign(&c)
	for range 2 {
		if got, err := kr.Verify(tok, now); err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("Verify = %+v, %v", got, err)
		}
	}
	if n := kr.cache.len(); n != 0 {
		t.Errorf("cache holds %d tokens, want 0", n)
	}
}

// TestCacheConcurrent verifies more distinct tokens than a small cache holds from many goroutines at once,
// so that hits, inserts and evictions race (run it with -race), and checks every answer.
func TestCacheConcurrent(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	kr.cache = newVerifiedCache(16, 1<<30)
	toks := make([]string, 40)
	for i := range toks {
		c := claimsN(i)
		toks[i] = kr.Sign(&c)
	}
	bad := toks[0][:len(toks[0])-2] + "xx"
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for j := range 2000 {
				i := (g*7 + j*j) % len(toks)
				got, err := kr.Verify(toks[i], now)
				if want := claimsN(i); err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("token %d: %+v, %v", i, got, err)
					return
				}
				if j%50 == 0 {
					if _, err := kr.Verify(bad, now); err == nil {
						t.Error("a forged token verified")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := kr.cache.len(); n > 16 {
		t.Errorf("cache holds %d tokens, more than its 16 slots", n)
	}
}

// TestCacheMemory checks entryCost, which the cache's byte budget counts, against the heap that cached
// tokens of several shapes really hold.
func TestCacheMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what the heap holds")
	}
	if testing.Short() {
		t.Skip("measures the heap")
	}
	tinyVars := func(n int) map[string]string {
		v := map[string]string{}
		for j := 0; len(v) < n; j++ {
			v[fmt.Sprintf("%x", j)] = ""
		}
		return v
	}
	shapes := []struct {
		name  string
		claim func(c *Claims)
	}{
		{"typical session token", func(c *Claims) {}},
		{"two vars", func(c *Claims) { c.Vars = map[string]string{"region": "eu", "tier": "gold"} }},
		{"128-character username", func(c *Claims) { c.Username = strings.Repeat("u", 128) }},
		{"one big var", func(c *Claims) { c.Vars = map[string]string{"k": strings.Repeat("x", 2800)} }},
		{"many tiny vars", func(c *Claims) { c.Vars = tinyVars(330) }},
		{"slow path: escaped username, tiny vars", func(c *Claims) { c.Username = `a"b`; c.Vars = tinyVars(60) }},
	}
	const n = 2048
	for _, s := range shapes {
		kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
		kr.cache = newVerifiedCache(n, 1<<40)
		toks := make([]string, n)
		for i := range toks {
			c := claimsN(i)
			s.claim(&c)
			toks[i] = kr.Sign(&c)
		}
		if len(toks[0]) > cacheMaxToken {
			t.Fatalf("%s: token of %d bytes is too long to cache", s.name, len(toks[0]))
		}
		kr.Verify(toks[0], now) // allocates the table
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, tok := range toks {
			kr.Verify(tok, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		entries := kr.cache.len()
		held := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(entries-1)
		cost := float64(kr.cache.bytes.Load()) / float64(entries)
		t.Logf("%s: token %d bytes, heap held %.0f bytes per entry, entryCost %.0f", s.name, len(toks[0]), held, cost)
		if held > cost {
			t.Errorf("%s: entries hold %.0f bytes each, more than the %.0f entryCost counts", s.name, held, cost)
		}
		runtime.KeepAlive(toks)
	}
}
