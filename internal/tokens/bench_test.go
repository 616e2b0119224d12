package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// BenchmarkVerify and the two that follow measure verification itself, signature and claims, without the
// keyring's cache: the work of a cache miss, comparable with figures from before the cache.
func BenchmarkVerify(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyHit is Verify of a token the keyring has verified before: a session's every request
// after its first.
func BenchmarkVerifyHit(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore, Generation: 1})
	kr.Verify(tok, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyHitParallel is BenchmarkVerifyHit on every core at once, over 1024 sessions' tokens.
func BenchmarkVerifyHitParallel(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	toks := make([]string, 1024)
	for i := range toks {
		c := claimsN(i)
		toks[i] = kr.Sign(&c)
		kr.Verify(toks[i], now)
	}
	for _, tok := range toks {
		if _, e := kr.cache.lookup(tok); e == nil {
			b.Fatal("a token is not cached")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := kr.Verify(toks[i&1023], now); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkVerifyMiss is Verify of tokens the cache does not hold: 4096 tokens in turn through a cache of
// one set, so that nearly every call verifies in full and inserts, evicting another token.
func BenchmarkVerifyMiss(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	kr.cache = newVerifiedCache(cacheWays, cacheBudget)
	toks := make([]string, 4096)
	for i := range toks {
		c := claimsN(i)
		toks[i] = kr.Sign(&c)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(toks[i&4095], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyStoreID verifies a token as Latchkey now issues it, with the store id claim.
func BenchmarkVerifyStoreID(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyWithVars(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	c := sampleClaims()
	tok := kr.Sign(&c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		kr.Sign(&c)
	}
}

// BenchmarkRawHMAC is the floor Verify is compared with in the same run: one HMAC-SHA256 over a token's
// signing input with a keyed MAC reused across calls (the same pooling Verify does), so the difference is
// what parsing, encoding and the header lookup cost.
func BenchmarkRawHMAC(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now})
	in := []byte(tok[:strings.LastIndexByte(tok, '.')])
	m := hmac.New(sha256.New, []byte("defaultencryptionkey"))
	sum := make([]byte, 0, sha256.Size)
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.Write(in)
		sum = m.Sum(sum[:0])
	}
}
