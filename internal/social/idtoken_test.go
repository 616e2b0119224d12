package social_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

// idProviders are the providers whose credential is an RS256 ID token.
var idProviders = []struct {
	provider socialtest.Provider
	aud      string
	verify   func(*social.Verifier, context.Context, string) (social.Identity, error)
	identity func(sub string) social.Identity
}{
	{socialtest.Apple, socialtest.BundleID, (*social.Verifier).Apple, func(sub string) social.Identity {
		return social.Identity{ID: sub, Email: sub + "@privaterelay.appleid.com"}
	}},
	{socialtest.Google, socialtest.GoogleClientID, (*social.Verifier).Google, func(sub string) social.Identity {
		return social.Identity{ID: sub, Email: sub + "@gmail.example", Name: "Player " + sub,
			AvatarURL: "https://lh3.googleusercontent.example/" + sub}
	}},
	{socialtest.FacebookLimited, socialtest.FacebookAppID, (*social.Verifier).Facebook, func(sub string) social.Identity {
		return social.Identity{ID: sub, Email: sub + "@facebook.example", Name: "Player " + sub,
			AvatarURL: "https://platform-lookaside.fbsbx.example/" + sub}
	}},
}

// minter makes one token for a provider; claims are what the provider would issue for sub "12345".
type minter func(p *socialtest.Providers, provider socialtest.Provider, claims map[string]any) string

// withClaims mints a properly signed token after edit changes the claims.
func withClaims(edit func(map[string]any)) minter {
	return func(p *socialtest.Providers, provider socialtest.Provider, claims map[string]any) string {
		edit(claims)
		return p.Token(provider, claims)
	}
}

// withHeader mints a token with header (kid filled in with the provider's current kid unless set) signed
// by sign.
func withHeader(header map[string]any, sign func(pub *rsa.PublicKey) func([]byte) []byte) minter {
	return func(p *socialtest.Providers, provider socialtest.Provider, claims map[string]any) string {
		kid, pub := p.Key(provider)
		h := map[string]any{"kid": kid}
		for k, v := range header {
			h[k] = v
		}
		return socialtest.SignJWT(h, claims, sign(pub))
	}
}

func literal(token string) minter {
	return func(*socialtest.Providers, socialtest.Provider, map[string]any) string { return token }
}

// editToken mints a valid token and changes its text.
func editToken(edit func(parts []string)) minter {
	return func(p *socialtest.Providers, provider socialtest.Provider, claims map[string]any) string {
		parts := strings.Split(p.Token(provider, claims), ".")
		edit(parts)
		return strings.Join(parts, ".")
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestIDTokens(t *testing.T) {
	p := socialtest.Start(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := func(pub *rsa.PublicKey) []byte {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	now := time.Now()
	tests := []struct {
		name  string
		token minter
		want  error
	}{
		{"valid", withClaims(func(map[string]any) {}), nil},
		{"audience array holding ours", withClaims(func(c map[string]any) { c["aud"] = []string{"someone-else", c["aud"].(string)} }), nil},
		{"expired within clock skew", withClaims(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }), nil},
		{"fractional times", withClaims(func(c map[string]any) { c["exp"] = float64(now.Add(time.Hour).Unix()) + 0.5 }), nil},
		{"expired", withClaims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), social.ErrInvalid},
		{"no expiry", withClaims(func(c map[string]any) { delete(c, "exp") }), social.ErrInvalid},
		{"issued in the future", withClaims(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }), social.ErrInvalid},
		{"not valid yet", withClaims(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() }), social.ErrInvalid},
		{"wrong audience", withClaims(func(c map[string]any) { c["aud"] = "com.other.app" }), social.ErrInvalid},
		{"no audience", withClaims(func(c map[string]any) { delete(c, "aud") }), social.ErrInvalid},
		{"wrong issuer", withClaims(func(c map[string]any) { c["iss"] = "https://evil.example" }), social.ErrInvalid},
		{"no subject", withClaims(func(c map[string]any) { c["sub"] = "" }), social.ErrInvalid},
		{"claim of the wrong type", withClaims(func(c map[string]any) { c["sub"] = 12345 }), social.ErrInvalid},
		{"forged signature", editToken(func(parts []string) {
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			parts[2] = base64.RawURLEncoding.EncodeToString(sig)
		}), social.ErrInvalid},
		{"claims changed after signing", editToken(func(parts []string) {
			var c map[string]any
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			json.Unmarshal(raw, &c)
			c["sub"] = "someone-else"
			parts[1] = b64(c)
		}), social.ErrInvalid},
		{"signed by another key under the provider's kid", withHeader(map[string]any{"alg": "RS256"},
			func(*rsa.PublicKey) func([]byte) []byte { return socialtest.RS256(other) }), social.ErrInvalid},
		{"alg none", withHeader(map[string]any{"alg": "none"},
			func(*rsa.PublicKey) func([]byte) []byte { return func([]byte) []byte { return nil } }), social.ErrInvalid},
		{"HS256 keyed with the public key PEM", withHeader(map[string]any{"alg": "HS256"},
			func(pub *rsa.PublicKey) func([]byte) []byte { return socialtest.HS256(publicPEM(pub)) }), social.ErrInvalid},
		{"HS256 keyed with the modulus", withHeader(map[string]any{"alg": "HS256"},
			func(pub *rsa.PublicKey) func([]byte) []byte { return socialtest.HS256(pub.N.Bytes()) }), social.ErrInvalid},
		{"RS512 header", withHeader(map[string]any{"alg": "RS512"},
			func(*rsa.PublicKey) func([]byte) []byte { return socialtest.RS256(other) }), social.ErrInvalid},
		{"critical header", withHeader(map[string]any{"alg": "RS256", "crit": []string{"exp"}},
			func(*rsa.PublicKey) func([]byte) []byte { return socialtest.RS256(other) }), social.ErrInvalid},
		{"unknown kid", withHeader(map[string]any{"alg": "RS256", "kid": "forged"},
			func(*rsa.PublicKey) func([]byte) []byte { return socialtest.RS256(other) }), social.ErrInvalid},
		{"no kid", withHeader(map[string]any{"alg": "RS256", "kid": ""},
			func(*rsa.PublicKey) func([]byte) []byte { return socialtest.RS256(other) }), social.ErrInvalid},
		{"two parts", literal("eyJhbGciOiJSUzI1NiJ9.e30"), social.ErrInvalid},
		{"four parts", literal("a.b.c.d"), social.ErrInvalid},
		{"not base64url", literal("!!!.@@@.###"), social.ErrInvalid},
		{"header not JSON", literal(base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + b64(map[string]any{}) + ".c2ln"), social.ErrInvalid},
		{"padded base64", editToken(func(parts []string) { parts[1] += "==" }), social.ErrInvalid},
		{"empty", literal(""), social.ErrInvalid},
		{"oversized", literal(strings.Repeat("a", 20000) + ".b.c"), social.ErrInvalid},
	}
	for _, ip := range idProviders {
		t.Run(string(ip.provider), func(t *testing.T) {
			e := newEnv(t, p, nil)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					token := tt.token(p, ip.provider, p.Claims(ip.provider, "12345", ip.aud, now.Add(time.Hour)))
					id, err := ip.verify(e.v, context.Background(), token)
					checkErr(t, err, tt.want, token)
					if tt.want == nil && id != ip.identity("12345") {
						t.Errorf("got %+v, want %+v", id, ip.identity("12345"))
					}
				})
			}
			// One fetch for the first token, one refresh for the unknown kid: a refused token costs
			// nothing more.
			if got := p.Hits(ip.provider); got != 2 {
				t.Errorf("key set fetched %d times, want 2", got)
			}
		})
	}
}

// TestUnverifiedEmail checks that an email the provider marks unverified is not passed on.
func TestUnverifiedEmail(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, nil)
	claims := p.Claims(socialtest.Google, "777", socialtest.GoogleClientID, time.Now().Add(time.Hour))
	claims["email_verified"] = false
	id, err := e.v.Google(context.Background(), p.Token(socialtest.Google, claims))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "" || id.ID != "777" {
		t.Errorf("got %+v, want ID 777 and no email", id)
	}
}

// TestKeyRotation checks that a token under a new kid triggers one early refresh of the key set and then
// verifies, and that a flood of unknown kids costs at most one fetch per 30 s.
func TestKeyRotation(t *testing.T) {
	p := socialtest.Start(t)
	ctx := context.Background()
	for _, ip := range idProviders {
		t.Run(string(ip.provider), func(t *testing.T) {
			e := newEnv(t, p, nil)
			mint := func() string {
				return p.Token(ip.provider, p.Claims(ip.provider, "rot", ip.aud, e.clock.Now().Add(time.Hour)))
			}
			before := p.Hits(ip.provider)
			oldToken := mint()
			if _, err := ip.verify(e.v, ctx, oldToken); err != nil {
				t.Fatal(err)
			}
			p.RotateKeys(ip.provider)
			if _, err := ip.verify(e.v, ctx, mint()); err != nil {
				t.Fatalf("token under the new kid: %v", err)
			}
			if got := p.Hits(ip.provider) - before; got != 2 {
				t.Fatalf("key set fetched %d times, want 2", got)
			}
			if _, err := ip.verify(e.v, ctx, oldToken); err != nil {
				t.Fatalf("token under the previous kid, still published: %v", err)
			}
			forged := func() string {
				kid := "forged-" + time.Now().Format(time.RFC3339Nano)
				return socialtest.SignJWT(map[string]any{"alg": "RS256", "kid": kid},
					p.Claims(ip.provider, "rot", ip.aud, e.clock.Now().Add(time.Hour)), func([]byte) []byte { return []byte("sig") })
			}
			for range 20 {
				_, err := ip.verify(e.v, ctx, forged())
				checkErr(t, err, social.ErrInvalid)
			}
			if got := p.Hits(ip.provider) - before; got != 2 {
				t.Fatalf("key set fetched %d times after a flood of unknown kids, want still 2", got)
			}
			e.clock.Advance(31 * time.Second)
			for range 5 {
				_, err := ip.verify(e.v, ctx, forged())
				checkErr(t, err, social.ErrInvalid)
			}
			if got := p.Hits(ip.provider) - before; got != 3 {
				t.Fatalf("key set fetched %d times 31 s later, want 3", got)
			}
		})
	}
}

// TestKeySetCache checks that the key set is kept for the answer's max-age, and that concurrent first
// calls share one fetch.
func TestKeySetCache(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, nil)
	ctx := context.Background()
	verify := func() {
		t.Helper()
		if _, err := e.v.Google(ctx, p.GoogleToken("c", socialtest.GoogleClientID, e.clock.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := e.v.Google(ctx, p.GoogleToken("c", socialtest.GoogleClientID, e.clock.Now().Add(time.Hour))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := p.Hits(socialtest.Google); got != 1 {
		t.Fatalf("16 concurrent first calls fetched %d times, want 1", got)
	}
	e.clock.Advance(socialtest.KeysMaxAge - time.Second)
	verify()
	if got := p.Hits(socialtest.Google); got != 1 {
		t.Fatalf("fetched %d times within max-age, want 1", got)
	}
	e.clock.Advance(2 * time.Second)
	verify()
	if got := p.Hits(socialtest.Google); got != 2 {
		t.Fatalf("fetched %d times after max-age, want 2", got)
	}
}
