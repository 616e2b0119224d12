package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/verify"
	"github.com/latchkeyhq/latchkey/verify/verifytest"
)

// mintN mints n distinct tickets (each is accepted once) with the node's newest key.
func mintN(node *verifytest.Server, n int) []string {
	tickets := make([]string, n)
	for i := range tickets {
		tickets[i] = node.Mint(verifytest.Ticket{
			Audience: audience, Username: "ada", Generation: 2, Vars: map[string]string{"region": "eu", "tier": "gold"},
			ExpiresAt: time.Now().Add(5 * time.Minute),
		})
	}
	return tickets
}

// BenchmarkVerify is the accepted path of Verify, one ticket after another: parse, signature, claims,
// revocation check (against a feed holding 1000 entries) and one-time use.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			node := newNode(b)
			node.AddKey(alg)
			for i := range 1000 {
				node.RevokeSession("u", "s"+strconv.Itoa(i))
			}
			v := start(b, node, verify.Config{})
			tickets := mintN(node, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Verify(tickets[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
		})
	}
}

// BenchmarkVerifyParallel verifies from GOMAXPROCS goroutines, and reports verifications per second per
// core.
func BenchmarkVerifyParallel(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			node := newNode(b)
			node.AddKey(alg)
			v := start(b, node, verify.Config{})
			tickets := mintN(node, b.N)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(tickets[next.Add(1)-1]); err != nil {
						b.Error(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/float64(runtime.GOMAXPROCS(0)), "verifies/s/core")
		})
	}
}

// BenchmarkEd25519Verify is the floor: crypto/ed25519 alone on a message of a ticket's size.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte(strings.Repeat("x", 330))
	sig := ed25519.Sign(priv, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkFeedPropagation is the time from a session's end being published on the (fake, loopback)
// node to Ended reporting it, with the verifier's long poll waiting as it does between revocations.
func BenchmarkFeedPropagation(b *testing.B) {
	node := newNode(b)
	v := start(b, node, verify.Config{})
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for node.Waiting() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		c := &verify.Claims{UserID: "u", SessionID: "s" + strconv.Itoa(i)}
		b.StartTimer()
		node.RevokeSession(c.UserID, c.SessionID)
		for !v.Ended(c) {
			runtime.Gosched()
		}
	}
}
