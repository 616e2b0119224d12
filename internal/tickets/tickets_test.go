package tickets

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/testclock"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// start is the tests' clock origin: far from time.Now, so that anything that reads the real clock shows.
var start = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// newClock returns a settable clock reading start.
func newClock() *testclock.Clock { return testclock.New(start) }

// countingStore counts key reads, and runs afterKeys (once) after a read has returned from the store but
// before its caller sees it: what another node does in between.
type countingStore struct {
	storage.Tickets
	reads     atomic.Int32
	afterKeys func()
}

func (c *countingStore) TicketKeys(ctx context.Context) ([]storage.TicketKey, error) {
	c.reads.Add(1)
	keys, err := c.Tickets.TicketKeys(ctx)
	if f := c.afterKeys; f != nil {
		c.afterKeys = nil
		f()
	}
	return keys, err
}

// newStore returns a migrated SQLite store in a temporary directory.
func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func testConfig(alg string) Config {
	return Config{Algorithm: alg, TTL: 30 * time.Second, MaxTTL: 5 * time.Minute, Vars: []string{"team", "empty"},
		Issuer: "latchkey-test", Rotation: time.Hour}
}

// newService returns a loaded service on st.
func newService(t testing.TB, st storage.Tickets, cfg Config, clk *testclock.Clock) *Service {
	t.Helper()
	s := New(cfg, Deps{Store: st, Clock: clk.Now})
	if err := s.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

var session = tokens.Claims{TokenID: "0190c5a4-0000-7000-8000-000000000001", UserID: "0190c5a4-0000-7000-8000-0000000000aa",
	Username: "alice", Generation: 3, Vars: map[string]string{"team": "red", "secret": "not for tickets"}}

func mustMint(t testing.TB, s *Service, c tokens.Claims, aud string, ttl time.Duration) Ticket {
	t.Helper()
	tk, err := s.Mint(context.Background(), c, aud, ttl)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tk
}

var algorithms = []string{EdDSA, ES256}

func TestMintVerifyRedeem(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			ctx := t.Context()
			clk := newClock()
			s := newService(t, newStore(t), testConfig(alg), clk)
			tk := mustMint(t, s, session, "match-7", 0)
			want := Claims{Issuer: "latchkey-test", UserID: session.UserID, Audience: "match-7", IssuedAt: start.Unix(),
				ExpiresAt: start.Unix() + 30, ID: tk.ID, SessionID: session.TokenID, Generation: 3, Username: "alice",
				Vars: map[string]string{"team": "red"}}
			if tk.ExpiresAt != want.ExpiresAt {
				t.Errorf("ExpiresAt = %d, want %d", tk.ExpiresAt, want.ExpiresAt)
			}
			got, err := s.Verify(tk.Token, "match-7")
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
			}
			// Verifying does not redeem.
			if _, err := s.Verify(tk.Token, "match-7"); err != nil {
				t.Errorf("second Verify: %v", err)
			}
			if got, err := s.Redeem(ctx, tk.Token, "match-7"); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("Redeem = %+v, %v; want %+v", got, err, want)
			}
			if _, err := s.Redeem(ctx, tk.Token, "match-7"); !errors.Is(err, ErrRedeemed) {
				t.Errorf("replayed Redeem = %v, want ErrRedeemed", err)
			}
			// Another ticket of the same session is a ticket of its own.
			if _, err := s.Redeem(ctx, mustMint(t, s, session, "match-7", 0).Token, "match-7"); err != nil {
				t.Errorf("Redeem of a second ticket: %v", err)
			}
		})
	}
}

// segments decodes a ticket's header and claims as generic JSON, and its signature.
func segments(t *testing.T, token string) (header, claims map[string]any, sig []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("ticket has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return header, claims, sig
}

// TestWireFormat checks the ticket's header and claims against the contract, and its signature against
// the key as JWKS publishes it, with the standard library alone: what a game server written against the
// RFCs does.
func TestWireFormat(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			s := newService(t, newStore(t), testConfig(alg), newClock())
			tk := mustMint(t, s, session, "svc", 90*time.Second)
			header, claims, sig := segments(t, tk.Token)
			kid := s.keys.Load().signer.id
			if want := map[string]any{"alg": alg, "kid": kid, "typ": "JWT"}; !reflect.DeepEqual(header, want) {
				t.Errorf("header = %v, want %v", header, want)
			}
			wantClaims := map[string]any{"iss": "latchkey-test", "sub": session.UserID, "aud": "svc",
				"iat": float64(start.Unix()), "exp": float64(start.Unix() + 90), "jti": tk.ID, "sid": session.TokenID,
				"gen": float64(3), "usn": "alice", "vrs": map[string]any{"team": "red"}, "typ": TicketType}
			if !reflect.DeepEqual(claims, wantClaims) {
				t.Errorf("claims = %v\nwant %v", claims, wantClaims)
			}
			if len(tk.ID) != 36 || tk.ID[14] != '7' {
				t.Errorf("jti = %q, want a UUIDv7", tk.ID)
			}
			if ms := int64(mustHex(t, strings.ReplaceAll(tk.ID[:13], "-", ""))); ms != start.UnixMilli() {
				t.Errorf("jti time = %d, want %d", ms, start.UnixMilli())
			}

			// gen and vrs are left out when empty.
			bare := mustMint(t, s, tokens.Claims{TokenID: session.TokenID, UserID: session.UserID, Username: "bob"}, "svc", 0)
			if _, c, _ := segments(t, bare.Token); c["gen"] != nil || c["vrs"] != nil {
				t.Errorf("claims without generation and vars = %v, want neither gen nor vrs", c)
			}

			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			if err := json.Unmarshal(s.JWKS(), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS = %s, %v; want one key", s.JWKS(), err)
			}
			jwk := set.Keys[0]
			input := []byte(tk.Token[:strings.LastIndexByte(tk.Token, '.')])
			x := b64Decode(t, jwk["x"])
			switch alg {
			case EdDSA:
				want := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": jwk["x"], "kid": kid, "alg": "EdDSA", "use": "sig"}
				if !reflect.DeepEqual(jwk, want) || len(x) != 32 {
					t.Errorf("JWK = %v, want %v with a 32-byte x", jwk, want)
				}
				if !ed25519.Verify(ed25519.PublicKey(x), input, sig) {
					t.Error("signature does not verify with the published key")
				}
			case ES256:
				want := map[string]string{"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"], "kid": kid, "alg": "ES256", "use": "sig"}
				y := b64Decode(t, jwk["y"])
				if !reflect.DeepEqual(jwk, want) || len(x) != 32 || len(y) != 32 {
					t.Errorf("JWK = %v, want %v with 32-byte x and y", jwk, want)
				}
				pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256(input)
				if len(sig) != 64 || !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
					t.Error("signature does not verify with the published key")
				}
			}
		})
	}
}

func b64Decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

func mustHex(t *testing.T, s string) uint64 {
	t.Helper()
	var v uint64
	if _, err := fmt.Sscanf(s, "%x", &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTampering changes every character of a ticket, in turn, to every other base64url character, and
// flips every bit of its decoded claims and signature: no change may verify.
func TestTampering(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			s := newService(t, newStore(t), testConfig(alg), newClock())
			token := mustMint(t, s, session, "svc", 0).Token
			refuse := func(what, forged string) {
				t.Helper()
				if c, err := s.Verify(forged, "svc"); err == nil {
					t.Fatalf("%s: verified as %+v", what, c)
				}
			}
			for i := range len(token) {
				if token[i] == '.' {
					continue
				}
				// Three substitutes per position keep the test quick: the next character, and the ones
				// that differ in the lowest and the highest bit of its 6-bit value.
				v := strings.IndexByte(alphabet, token[i])
				for _, w := range []int{(v + 1) % 64, v ^ 1, v ^ 32} {
					refuse(fmt.Sprintf("character %d", i), token[:i]+string(alphabet[w])+token[i+1:])
				}
			}
			parts := strings.Split(token, ".")
			for p := 1; p <= 2; p++ {
				raw := b64Decode(t, parts[p])
				for i := range raw {
					for bit := range 8 {
						forged := append([]byte(nil), raw...)
						forged[i] ^= 1 << bit
						q := append([]string(nil), parts...)
						q[p] = base64.RawURLEncoding.EncodeToString(forged)
						refuse(fmt.Sprintf("part %d byte %d bit %d", p, i, bit), strings.Join(q, "."))
					}
				}
			}
			if _, err := s.Verify(token, "svc"); err != nil {
				t.Errorf("the untouched ticket: %v", err)
			}
		})
	}
}

// forge builds a ticket with the given header and claims, signed by sign.
func forge(header, claims string, sign func(input []byte) []byte) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// TestAlgorithmConfusion: a header whose alg is not the one of the key its kid names is refused, whatever
// the signature: HS256 keyed with the public key (the classic confusion), none, and the other algorithm.
func TestAlgorithmConfusion(t *testing.T) {
	clk := newClock()
	st := newStore(t)
	es := newService(t, st, testConfig(ES256), clk)
	k := es.keys.Load().signer
	_, claims, _ := segments(t, mustMint(t, es, session, "svc", 0).Token)
	claims["jti"] = "0190c5a4-0000-7000-8000-00000000beef"
	payload, _ := json.Marshal(claims)
	pubDER := func() []byte {
		stored, _ := st.TicketKeys(t.Context())
		return stored[0].Public
	}()
	hs := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	ecSign := func(in []byte) []byte {
		sig, err := k.sign(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	_, edPriv, _ := ed25519.GenerateKey(nil)
	cases := map[string]string{
		"HS256 keyed with the public key": forge(`{"alg":"HS256","kid":"`+k.id+`","typ":"JWT"}`, string(payload), hs(pubDER)),
		"HS256 with 64 bytes":             forge(`{"alg":"HS256","kid":"`+k.id+`","typ":"JWT"}`, string(payload), func(in []byte) []byte { return append(hs(pubDER)(in), hs(pubDER)(in)...) }),
		"none":                            forge(`{"alg":"none","kid":"`+k.id+`","typ":"JWT"}`, string(payload), func([]byte) []byte { return nil }),
		"none, 64 zero bytes":             forge(`{"alg":"none","kid":"`+k.id+`","typ":"JWT"}`, string(payload), func([]byte) []byte { return make([]byte, 64) }),
		"EdDSA header on the ES256 key":   forge(`{"alg":"EdDSA","kid":"`+k.id+`","typ":"JWT"}`, string(payload), func(in []byte) []byte { return ed25519.Sign(edPriv, in) }),
		"EdDSA header, ES256 signature":   forge(`{"alg":"EdDSA","kid":"`+k.id+`","typ":"JWT"}`, string(payload), ecSign),
		"no kid":                          forge(`{"alg":"ES256","typ":"JWT"}`, string(payload), ecSign),
		"unknown kid":                     forge(`{"alg":"ES256","kid":"nope","typ":"JWT"}`, string(payload), ecSign),
		"typ JOSE":                        forge(`{"alg":"ES256","kid":"`+k.id+`","typ":"JOSE"}`, string(payload), ecSign),
		"crit header":                     forge(`{"alg":"ES256","kid":"`+k.id+`","typ":"JWT","crit":["exp"]}`, string(payload), ecSign),
		"jku header":                      forge(`{"alg":"ES256","kid":"`+k.id+`","typ":"JWT","jku":"http://127.0.0.1/"}`, string(payload), ecSign),
	}
	for name, token := range cases {
		if c, err := es.Verify(token, "svc"); err == nil {
			t.Errorf("%s: verified as %+v", name, c)
		}
	}
	// The control: the same claims under the key's own header, in another spelling, verify.
	if _, err := es.Verify(forge(`{"typ":"JWT", "alg":"ES256","kid":"`+k.id+`"}`, string(payload), ecSign), "svc"); err != nil {
		t.Errorf("a well-signed ticket with a reordered header: %v", err)
	}
}

func TestExpiryAndIssuedAt(t *testing.T) {
	clk := newClock()
	st := newStore(t)
	s := newService(t, st, testConfig(EdDSA), clk)
	tk := mustMint(t, s, session, "svc", 10*time.Second)
	clk.Advance(9 * time.Second)
	if _, err := s.Verify(tk.Token, "svc"); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := s.Verify(tk.Token, "svc"); !errors.Is(err, ErrExpired) {
		t.Errorf("at exp: %v, want ErrExpired", err)
	}
	if _, err := s.Redeem(t.Context(), tk.Token, "svc"); !errors.Is(err, ErrExpired) {
		t.Errorf("Redeem at exp: %v, want ErrExpired", err)
	}

	// A node whose clock is behind accepts a ticket issued up to IssuedAtSkew ahead of it, no more.
	behind := testclock.New(clk.Now().Add(-IssuedAtSkew))
	b := newService(t, st, testConfig(EdDSA), behind)
	fresh := mustMint(t, s, session, "svc", 0)
	if _, err := b.Verify(fresh.Token, "svc"); err != nil {
		t.Errorf("issued %v ahead: %v", IssuedAtSkew, err)
	}
	behind.Advance(-time.Second)
	if _, err := b.Verify(fresh.Token, "svc"); !errors.Is(err, ErrClaims) {
		t.Errorf("issued %v ahead: %v, want ErrClaims", IssuedAtSkew+time.Second, err)
	}
}

func TestAudienceAndTTL(t *testing.T) {
	ctx := t.Context()
	s := newService(t, newStore(t), testConfig(EdDSA), newClock())
	tk := mustMint(t, s, session, "server-a", 0)
	for _, aud := range []string{"server-b", "", "server-a ", "Server-a"} {
		if _, err := s.Verify(tk.Token, aud); !errors.Is(err, ErrAudience) {
			t.Errorf("Verify for audience %q: %v, want ErrAudience", aud, err)
		}
		if _, err := s.Redeem(ctx, tk.Token, aud); !errors.Is(err, ErrAudience) {
			t.Errorf("Redeem for audience %q: %v, want ErrAudience", aud, err)
		}
	}
	// Refusals for the wrong audience did not use the ticket up.
	if _, err := s.Redeem(ctx, tk.Token, "server-a"); err != nil {
		t.Errorf("Redeem for its audience after refusals: %v", err)
	}

	for _, aud := range []string{"", strings.Repeat("a", MaxAudience+1), "tab\there", "nul\x00", "bad\xffutf8", "del\x7f", "nel\u0085"} {
		if _, err := s.Mint(ctx, session, aud, 0); !errors.Is(err, ErrInvalidAudience) {
			t.Errorf("Mint for audience %q: %v, want ErrInvalidAudience", aud, err)
		}
	}
	for _, aud := range []string{strings.Repeat("a", MaxAudience), "match:42/eu-west", "ünïcode ☃"} {
		tk := mustMint(t, s, session, aud, 0)
		if _, err := s.Verify(tk.Token, aud); err != nil {
			t.Errorf("Verify for audience %q: %v", aud, err)
		}
	}
	for _, ttl := range []time.Duration{-time.Second, time.Millisecond, 5*time.Minute + time.Second} {
		if _, err := s.Mint(ctx, session, "svc", ttl); !errors.Is(err, ErrInvalidTTL) {
			t.Errorf("Mint for %v: %v, want ErrInvalidTTL", ttl, err)
		}
	}
	if tk := mustMint(t, s, session, "svc", 5*time.Minute); tk.ExpiresAt != start.Unix()+300 {
		t.Errorf("ExpiresAt for the longest lifetime = %d, want %d", tk.ExpiresAt, start.Unix()+300)
	}

	// A ticket never outlives the credential it was minted from, whose feed entry lasts that long only.
	short := session
	short.ExpiresAt = start.Unix() + 10
	tk = mustMint(t, s, short, "svc", time.Minute)
	if c, err := s.Verify(tk.Token, "svc"); tk.ExpiresAt != start.Unix()+10 || err != nil || c.ExpiresAt != tk.ExpiresAt {
		t.Errorf("a minute's ticket from a credential expiring in 10 s: ExpiresAt %d, claims %+v, %v; want %d",
			tk.ExpiresAt, c, err, start.Unix()+10)
	}
	short.ExpiresAt = start.Unix()
	if _, err := s.Mint(ctx, short, "svc", 0); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("Mint from a credential expiring now: %v, want ErrInvalidTTL", err)
	}
}

// TestIssuer: a ticket of another issuer, or with another typ, is refused, though its key is known.
func TestIssuer(t *testing.T) {
	st := newStore(t)
	clk := newClock()
	s := newService(t, st, testConfig(EdDSA), clk)
	cfg := testConfig(EdDSA)
	cfg.Issuer = "someone-else"
	other := newService(t, st, cfg, clk)
	if _, err := s.Verify(mustMint(t, other, session, "svc", 0).Token, "svc"); !errors.Is(err, ErrClaims) {
		t.Errorf("a ticket of another issuer: %v, want ErrClaims", err)
	}
	k := s.keys.Load().signer
	for name, claims := range map[string]string{
		"session token typ": fmt.Sprintf(`{"iss":"latchkey-test","sub":"u","aud":"svc","iat":%d,"exp":%d,"jti":"j","typ":"JWT"}`, start.Unix(), start.Unix()+30),
		"no sub":            fmt.Sprintf(`{"iss":"latchkey-test","aud":"svc","iat":%d,"exp":%d,"jti":"j","typ":"latchkey-ticket"}`, start.Unix(), start.Unix()+30),
		"aud array":         fmt.Sprintf(`{"iss":"latchkey-test","sub":"u","aud":["svc"],"iat":%d,"exp":%d,"jti":"j","typ":"latchkey-ticket"}`, start.Unix(), start.Unix()+30),
		"fractional exp":    fmt.Sprintf(`{"iss":"latchkey-test","sub":"u","aud":"svc","iat":%d,"exp":%d.5,"jti":"j","typ":"latchkey-ticket"}`, start.Unix(), start.Unix()+30),
		"no exp":            fmt.Sprintf(`{"iss":"latchkey-test","sub":"u","aud":"svc","iat":%d,"jti":"j","typ":"latchkey-ticket"}`, start.Unix()),
	} {
		token := forge(`{"alg":"EdDSA","kid":"`+k.id+`","typ":"JWT"}`, claims, func(in []byte) []byte { return ed25519.Sign(k.ed, in) })
		if c, err := s.Verify(token, "svc"); err == nil {
			t.Errorf("%s: verified as %+v", name, c)
		}
	}
}

func TestOversizedAndMalformed(t *testing.T) {
	s := newService(t, newStore(t), testConfig(EdDSA), newClock())
	tk := mustMint(t, s, session, "svc", 0)
	for name, token := range map[string]string{
		"empty":        "",
		"two parts":    tk.Token[:strings.LastIndexByte(tk.Token, '.')],
		"four parts":   tk.Token + ".x",
		"padded":       tk.Token + "==",
		"over 4 KiB":   tk.Token + strings.Repeat("A", MaxTicket),
		"short sig":    tk.Token[:len(tk.Token)-4],
		"long header":  strings.Repeat("A", 1000) + tk.Token[strings.IndexByte(tk.Token, '.'):],
		"dots":         "..",
		"space inside": strings.Replace(tk.Token, ".", ". ", 1),
	} {
		if _, err := s.Verify(token, "svc"); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want ErrMalformed or ErrSignature", name, err)
		}
	}
}

func TestRevoked(t *testing.T) {
	st := newStore(t)
	var ended atomic.Bool
	var asked []string
	var mu sync.Mutex
	s := New(testConfig(EdDSA), Deps{Store: st, Clock: newClock().Now, Revoked: func(userID, sessionID string, gen int64) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, fmt.Sprint(userID, " ", sessionID, " ", gen))
		return ended.Load()
	}})
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk := mustMint(t, s, session, "svc", 0)
	ended.Store(true)
	if _, err := s.Redeem(t.Context(), tk.Token, "svc"); !errors.Is(err, ErrRevoked) {
		t.Errorf("Redeem of an ended session's ticket: %v, want ErrRevoked", err)
	}
	if want := []string{session.UserID + " " + session.TokenID + " 3"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("Revoked asked about %q, want %q", asked, want)
	}
}

// TestRedeemAcrossNodes: two nodes on one store share the key and the one-time record; of many
// redemptions of one ticket on both at once, exactly one succeeds.
func TestRedeemAcrossNodes(t *testing.T) {
	dir := t.TempDir()
	open := func() *sqlite.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(dir, "latchkey.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.MigrateUp(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st
	}
	clk := newClock()
	a := newService(t, open(), testConfig(EdDSA), clk)
	b := newService(t, open(), testConfig(EdDSA), clk)
	if ka, kb := a.keys.Load().signer.id, b.keys.Load().signer.id; ka != kb {
		t.Fatalf("nodes sign with %s and %s, want one key", ka, kb)
	}
	if string(a.JWKS()) != string(b.JWKS()) {
		t.Errorf("JWKS differ:\n%s\n%s", a.JWKS(), b.JWKS())
	}
	for round := range 3 {
		tk := mustMint(t, a, session, "svc", 0)
		const racers = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range racers {
			node := []*Service{a, b}[i%2]
			wg.Go(func() {
				_, err := node.Redeem(context.Background(), tk.Token, "svc")
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrRedeemed):
					t.Errorf("round %d: Redeem: %v, want success or ErrRedeemed", round, err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Errorf("round %d: %d redemptions succeeded, want 1", round, n)
		}
	}
}

func kids(t *testing.T, s *Service) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.Kid
	}
	return out
}

func mustRefresh(t *testing.T, s *Service) {
	t.Helper()
	if err := s.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// checkKids compares key ids, in order.
func checkKids(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func storedKids(t *testing.T, st storage.Tickets) []string {
	t.Helper()
	keys, err := st.TicketKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

// TestRotation walks a key's life with an injected clock: made at Load, replaced after Rotation, published
// with its successor until MaxTTL (plus the grace) after the successor was made, then deleted; a node that
// has not read the new key yet reads it when a ticket names it.
func TestRotation(t *testing.T) {
	clk := newClock()
	st := newStore(t)
	cfg := testConfig(EdDSA)
	a := newService(t, st, cfg, clk)
	first := a.keys.Load().signer.id
	checkKids(t, "JWKS kids", kids(t, a), first)
	counted := &countingStore{Tickets: st}
	b := newService(t, counted, cfg, clk)

	clk.Advance(cfg.Rotation - time.Second)
	mustRefresh(t, a)
	if got := a.keys.Load().signer.id; got != first {
		t.Fatalf("a second before rotation, signer = %s, want %s", got, first)
	}
	old := mustMint(t, a, session, "svc", cfg.MaxTTL)

	clk.Advance(time.Second)
	mustRefresh(t, a)
	second := a.keys.Load().signer.id
	if second == first {
		t.Fatal("no new key after the rotation period")
	}
	checkKids(t, "JWKS kids after rotation", kids(t, a), second, first)
	if _, err := a.Verify(old.Token, "svc"); err != nil {
		t.Errorf("a ticket of the previous key after rotation: %v", err)
	}

	// Node b has not refreshed: a ticket of the new key makes it read the keys, once.
	fresh := mustMint(t, a, session, "svc", 0)
	reads := counted.reads.Load()
	if _, err := b.Verify(fresh.Token, "svc"); err != nil {
		t.Errorf("node b, a ticket of a key it has not read: %v", err)
	}
	if got := counted.reads.Load() - reads; got != 1 {
		t.Errorf("node b read the keys %d times, want 1", got)
	}
	// Unknown kids within unknownKeyInterval do not read again.
	k := a.keys.Load().signer
	forged := forge(`{"alg":"EdDSA","kid":"unknown","typ":"JWT"}`, `{}`, func(in []byte) []byte { return ed25519.Sign(k.ed, in) })
	for range 3 {
		if _, err := b.Verify(forged, "svc"); !errors.Is(err, ErrSignature) {
			t.Errorf("unknown kid: %v, want ErrSignature", err)
		}
	}
	if got := counted.reads.Load() - reads; got != 1 {
		t.Errorf("node b read the keys %d times after unknown kids, want still 1", got)
	}
	clk.Advance(unknownKeyInterval)
	b.Verify(forged, "svc")
	if got := counted.reads.Load() - reads; got != 2 {
		t.Errorf("node b read the keys %d times after unknownKeyInterval, want 2", got)
	}

	// The previous key stays published until no ticket it signed can be live, then goes.
	clk.Advance(cfg.MaxTTL + retireGrace - unknownKeyInterval - time.Second)
	mustRefresh(t, a)
	checkKids(t, "stored keys a second before retirement", storedKids(t, st), second, first)
	clk.Advance(time.Second)
	mustRefresh(t, a)
	checkKids(t, "JWKS kids after retirement", kids(t, a), second)
	checkKids(t, "stored keys after retirement", storedKids(t, st), second)
	mustRefresh(t, b)
	checkKids(t, "node b JWKS kids after retirement", kids(t, b), second)
}

// TestRotationRace: two nodes that find rotation due at once both make a key; both keys are published,
// and once each has read the other's, both sign with the same (newest) one.
func TestRotationRace(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	st := newStore(t)
	cfg := testConfig(ES256)
	racing := &countingStore{Tickets: st}
	a := newService(t, racing, cfg, clk)
	b := newService(t, st, cfg, clk)
	first := a.keys.Load().signer.id

	clk.Advance(cfg.Rotation)
	// Node b rotates between node a's read of the keys and its decision.
	racing.afterKeys = func() {
		if err := b.refresh(ctx); err != nil {
			t.Error(err)
		}
	}
	mustRefresh(t, a)
	stored := storedKids(t, st)
	if len(stored) != 3 {
		t.Fatalf("stored keys = %q, want three (two new ones)", stored)
	}
	mustRefresh(t, b)
	checkKids(t, "node a JWKS kids", kids(t, a), stored...)
	checkKids(t, "node b JWKS kids", kids(t, b), stored...)
	sa, sb := a.keys.Load().signer.id, b.keys.Load().signer.id
	if sa != sb || sa != stored[0] || sa == first {
		t.Errorf("signers = %s and %s, want both the newest %s", sa, sb, stored[0])
	}
	// Tickets of either new key verify on both nodes.
	for _, n := range []*Service{a, b} {
		for _, m := range []*Service{a, b} {
			if _, err := n.Verify(mustMint(t, m, session, "svc", 0).Token, "svc"); err != nil {
				t.Errorf("cross-node Verify: %v", err)
			}
		}
	}
}

// TestLoadReusesKeys: a restarted node, or a second one, signs with the stored key rather than making one.
func TestLoadReusesKeys(t *testing.T) {
	st := newStore(t)
	clk := newClock()
	a := newService(t, st, testConfig(EdDSA), clk)
	clk.Advance(time.Hour - time.Second)
	b := newService(t, st, testConfig(ES256), clk) // the algorithm applies to the next key made
	if ka, kb := a.keys.Load().signer.id, b.keys.Load().signer.id; ka != kb {
		t.Errorf("second node signs with %s, want the stored %s", kb, ka)
	}
	if got := storedKids(t, st); len(got) != 1 {
		t.Errorf("stored keys = %q, want one", got)
	}
	clk.Advance(time.Second)
	mustRefresh(t, b)
	if alg := b.keys.Load().signer.alg; alg != ES256 {
		t.Errorf("the key made at rotation is %s, want the configured ES256", alg)
	}
}

// TestUnusableStoredKey: a stored key the node cannot use (a corrupt row, an algorithm of a later
// version) is left out rather than stopping the node.
func TestUnusableStoredKey(t *testing.T) {
	st := newStore(t)
	clk := newClock()
	a := newService(t, st, testConfig(EdDSA), clk)
	good := a.keys.Load().signer.id
	bad := storage.TicketKey{ID: "bad", Algorithm: "ES512", Private: []byte{1}, Public: []byte{2}, CreateTime: start.Add(time.Second)}
	if err := st.AddTicketKey(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, a)
	checkKids(t, "JWKS kids", kids(t, a), good)
}

// TestSweep: Run's sweep deletes the redemption records of tickets expired longer than redeemedGrace.
func TestSweep(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	st := newStore(t)
	s := newService(t, st, testConfig(EdDSA), clk)
	tk := mustMint(t, s, session, "svc", 10*time.Second)
	if _, err := s.Redeem(ctx, tk.Token, "svc"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Second + redeemedGrace)
	if err := s.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.RedeemTicket(ctx, tk.ID, start); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("record at expiry + grace: %v, want kept (ErrConflict)", err)
	}
	clk.Advance(time.Second)
	if err := s.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.RedeemTicket(ctx, tk.ID, start); err != nil {
		t.Errorf("record past expiry + grace: %v, want deleted", err)
	}
}
