package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

func BenchmarkVerify(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyStoreID verifies a token as Latchkey now issues it, with the store id claim.
func BenchmarkVerifyStoreID(b *testing.B) {
	kr := mustKeyring(b, Key{Secret: []byte("defaultencryptionkey")})
	tok := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, now); err != nil {
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
		if _, err := kr.Verify(tok, now); err != nil {
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
