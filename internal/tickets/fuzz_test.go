package tickets

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// zeros is a Rand that reads zeros, so that ticket ids are the same from run to run.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// fixedKeys stores an ES256 key and, newer, an EdDSA key made from fixed seeds, so that tickets they
// sign stay valid across runs (the committed fuzz corpus holds some), and returns a loaded service at
// start whose signer is the EdDSA key.
func fixedKeys(t testing.TB) *Service {
	t.Helper()
	st := newStore(t)
	ed := ed25519.NewKeyFromSeed([]byte("latchkey-fuzz-seed-ed25519-00032"))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), []byte("latchkey-fuzz-seed-p256-00000032"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		id, alg   string
		priv, pub any
		age       time.Duration
	}{{"fuzz-es", ES256, ec, &ec.PublicKey, 2 * time.Minute}, {"fuzz-ed", EdDSA, ed, ed.Public(), time.Minute}} {
		privDER, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		pubDER, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			t.Fatal(err)
		}
		sk := storage.TicketKey{ID: k.id, Algorithm: k.alg, Private: privDER, Public: pubDER, CreateTime: start.Add(-k.age)}
		if err := st.AddTicketKey(t.Context(), sk); err != nil {
			t.Fatal(err)
		}
	}
	s := New(testConfig(EdDSA), Deps{Store: st, Clock: newClock().Now, Rand: zeros{}})
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if id := s.keys.Load().signer.id; id != "fuzz-ed" {
		t.Fatalf("signer = %s, want fuzz-ed", id)
	}
	return s
}

// FuzzVerify feeds arbitrary strings to Verify. It must never panic, and it may accept only a ticket whose
// header and claims are exactly those of a ticket the keys signed: no change to them survives, whatever
// the signature.
func FuzzVerify(f *testing.F) {
	s := fixedKeys(f)
	edTicket := mustMint(f, s, session, "svc", 5*time.Minute).Token
	es := s.keys.Load().byKID["fuzz-es"]
	esTicket := forge(`{"alg":"ES256","kid":"fuzz-es","typ":"JWT"}`, claimsOf(f, edTicket), func(in []byte) []byte {
		sig, err := es.sign(nil, in)
		if err != nil {
			f.Fatal(err)
		}
		return sig
	})
	valid := map[string]bool{}
	for _, tk := range []string{edTicket, esTicket} {
		if _, err := s.Verify(tk, "svc"); err != nil {
			f.Fatalf("seed ticket refused: %v", err)
		}
		valid[tk[:strings.LastIndexByte(tk, '.')]] = true
		f.Add(tk)
	}
	f.Add(forge(`{"alg":"none","kid":"fuzz-ed","typ":"JWT"}`, claimsOf(f, edTicket), func([]byte) []byte { return nil }))
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := s.Verify(token, "svc"); err != nil {
			return
		}
		if signed := token[:strings.LastIndexByte(token, '.')]; !valid[signed] {
			t.Fatalf("accepted a ticket the keys never signed: %q", token)
		}
	})
}

// claimsOf returns a ticket's decoded claims segment.
func claimsOf(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// BenchmarkVerify measures checking a ticket offline (no redemption), per algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			s := newService(b, newStore(b), testConfig(alg), newClock())
			token := mustMint(b, s, session, "svc", 0).Token
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Verify(token, "svc"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
