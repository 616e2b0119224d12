package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

const (
	keysNow        = int64(1_900_000_000)
	sessionSecret  = "nakama-session-key"
	refreshSecret  = "nakama-refresh-key"
	k1Secret       = "k1-session-secret-0123456789abcdef"
	k2Secret       = "k2-session-secret-0123456789abcdef"
	r1Secret       = "r1-refresh-secret-0123456789abcdef"
	sameIDRefresh  = "k1-refresh-secret-0123456789abcdef"
	testTokenID    = "0f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	testTokenOwner = "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11"
)

// sessionConfig returns session settings with the given keyrings; nil lists mean Nakama mode.
func sessionConfig(signing []string, active string, refresh []string, refreshActive string) config.SessionConfig {
	s := config.Default().Session
	s.EncryptionKey, s.RefreshEncryptionKey = sessionSecret, refreshSecret
	s.SigningKeys, s.ActiveKey = signing, active
	s.RefreshSigningKeys, s.RefreshActiveKey = refresh, refreshActive
	return s
}

func mustKeyrings(t *testing.T, s config.SessionConfig) (session, refresh *tokens.Keyring) {
	t.Helper()
	session, refresh, err := Keyrings(s)
	if err != nil {
		t.Fatalf("Keyrings: %v", err)
	}
	return session, refresh
}

func testClaims() *tokens.Claims {
	return &tokens.Claims{TokenID: testTokenID, UserID: testTokenOwner, Username: "alice", ExpiresAt: keysNow + 60, IssuedAt: keysNow}
}

// rawHS256 signs a token the way any JWT library would, with exactly the given header and payload.
func rawHS256(secret, header, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// nakamaToken is a session token as a Nakama server signs it with secret: no kid header.
func nakamaToken(secret string) string {
	return rawHS256(secret, `{"alg":"HS256","typ":"JWT"}`,
		`{"tid":"`+testTokenID+`","uid":"`+testTokenOwner+`","usn":"alice","exp":1900000060,"iat":1900000000}`)
}

// kid returns the token's kid header, or "" when it has none.
func kid(t *testing.T, token string) string {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("header of %q: %v", token, err)
	}
	var h struct {
		Kid *string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header %s: %v", raw, err)
	}
	if h.Kid == nil {
		return ""
	}
	if *h.Kid == "" {
		t.Fatalf("header %s has an empty kid", raw)
	}
	return *h.Kid
}

// verify checks token against kr and compares the error with want (nil for a valid token).
func verify(t *testing.T, name string, kr *tokens.Keyring, token string, want error) {
	t.Helper()
	c, err := kr.Verify(token, keysNow)
	if !errors.Is(err, want) && !(err == nil && want == nil) {
		t.Errorf("%s: Verify = %v, want %v", name, err, want)
		return
	}
	if want == nil && (c.TokenID != testTokenID || c.UserID != testTokenOwner) {
		t.Errorf("%s: claims = %+v", name, c)
	}
}

func TestKeyringsNakamaMode(t *testing.T) {
	skeys, rkeys := mustKeyrings(t, sessionConfig(nil, "", nil, ""))

	st, rt := skeys.Sign(testClaims()), rkeys.Sign(testClaims())
	if got := kid(t, st); got != "" {
		t.Errorf("session token kid = %q, want none, as Nakama", got)
	}
	if got := kid(t, rt); got != "" {
		t.Errorf("refresh token kid = %q, want none, as Nakama", got)
	}
	verify(t, "session round trip", skeys, st, nil)
	verify(t, "refresh round trip", rkeys, rt, nil)
	verify(t, "Nakama session token", skeys, nakamaToken(sessionSecret), nil)
	verify(t, "Nakama refresh token", rkeys, nakamaToken(refreshSecret), nil)
	verify(t, "session token as refresh", rkeys, st, tokens.ErrSignature)
	verify(t, "refresh token as session", skeys, rt, tokens.ErrSignature)
	// In Nakama mode no token with a kid verifies, even one signed with the encryption key.
	withKID := rawHS256(sessionSecret, `{"alg":"HS256","kid":"k1","typ":"JWT"}`,
		`{"tid":"`+testTokenID+`","uid":"`+testTokenOwner+`","exp":1900000060}`)
	verify(t, "kid token in Nakama mode", skeys, withKID, tokens.ErrSignature)
}

func TestKeyringsRotation(t *testing.T) {
	// A: the first keyring, k1 active. B: k2 added and made active, k1 still listed. C: k1 removed.
	cfgA := sessionConfig([]string{"k1:" + k1Secret}, "k1", []string{"r1:" + r1Secret}, "r1")
	cfgB := sessionConfig([]string{"k1:" + k1Secret, "k2:" + k2Secret}, "k2", []string{"r1:" + r1Secret}, "r1")
	cfgC := sessionConfig([]string{"k2:" + k2Secret}, "k2", []string{"r1:" + r1Secret}, "r1")
	sA, rA := mustKeyrings(t, cfgA)
	sB, rB := mustKeyrings(t, cfgB)
	sC, _ := mustKeyrings(t, cfgC)

	tokA, tokB := sA.Sign(testClaims()), sB.Sign(testClaims())
	if got := kid(t, tokA); got != "k1" {
		t.Errorf("kid before rotation = %q, want k1", got)
	}
	if got := kid(t, tokB); got != "k2" {
		t.Errorf("kid after rotation = %q, want k2", got)
	}
	if got := kid(t, rA.Sign(testClaims())); got != "r1" {
		t.Errorf("refresh kid = %q, want r1", got)
	}
	if sB.ActiveKeyID() != "k2" || rB.ActiveKeyID() != "r1" {
		t.Errorf("active keys = %q, %q; want k2, r1", sB.ActiveKeyID(), rB.ActiveKeyID())
	}

	verify(t, "new token", sB, tokB, nil)
	verify(t, "token of the previous active key after rotation", sB, tokA, nil)
	verify(t, "Nakama token (no kid) with a keyring", sB, nakamaToken(sessionSecret), nil)
	verify(t, "refresh token (no kid) with a keyring", rB, nakamaToken(refreshSecret), nil)
	verify(t, "token of a removed key", sC, tokA, tokens.ErrSignature)
	verify(t, "token of the remaining key", sC, tokB, nil)
	verify(t, "refresh token as session token", sB, rA.Sign(testClaims()), tokens.ErrSignature)
	verify(t, "session token as refresh token", rB, tokB, tokens.ErrSignature)
	verify(t, "Nakama refresh token as session token", sB, nakamaToken(refreshSecret), tokens.ErrSignature)

	// Ids may repeat across the two kinds; the secrets differ, so a refresh token whose kid names a session
	// key is still refused as a session token.
	cfgD := sessionConfig([]string{"k1:" + k1Secret}, "k1", []string{"k1:" + sameIDRefresh}, "k1")
	sD, rD := mustKeyrings(t, cfgD)
	rt := rD.Sign(testClaims())
	if got := kid(t, rt); got != "k1" {
		t.Fatalf("refresh kid = %q, want k1", got)
	}
	verify(t, "refresh token with a session key's kid", sD, rt, tokens.ErrSignature)
	verify(t, "session token with a refresh key's kid", rD, sD.Sign(testClaims()), tokens.ErrSignature)
	// A token carrying k1's kid but signed with the no-kid key is refused: a kid picks exactly one key.
	forged := rawHS256(sessionSecret, `{"alg":"HS256","kid":"k1","typ":"JWT"}`,
		`{"tid":"`+testTokenID+`","uid":"`+testTokenOwner+`","exp":1900000060}`)
	verify(t, "kid token signed with the encryption key", sD, forged, tokens.ErrSignature)
}

func TestKeyringsErrors(t *testing.T) {
	secret := "a-secret-that-must-never-be-shown-0123"
	tests := []struct {
		name string
		cfg  config.SessionConfig
		want string
	}{
		{"no active key", sessionConfig([]string{"k1:" + secret}, "", nil, ""), "session keys: active key"},
		{"unknown active key", sessionConfig([]string{"k1:" + secret}, "k9", nil, ""), "session keys: active key \"k9\""},
		{"active key without keys", sessionConfig(nil, "", nil, "r1"), "refresh keys: active key \"r1\""},
		{"entry without colon", sessionConfig(nil, "", []string{secret}, "r1"), "refresh keys: signing key 0 is not ID:SECRET"},
		{"entry without id", sessionConfig([]string{"k1:x", ":" + secret}, "k1", nil, ""), "session keys: signing key 1 is not ID:SECRET"},
		{"duplicate id", sessionConfig([]string{"k1:" + secret, "k1:" + secret + "2"}, "k1", nil, ""), "session keys: tokens: duplicate key id"},
		{"empty secret", sessionConfig([]string{"k1:" + secret, "k2:"}, "k1", nil, ""), "session keys: tokens: key \"k2\" has an empty secret"},
		{"empty encryption key", func() config.SessionConfig {
			s := sessionConfig(nil, "", nil, "")
			s.RefreshEncryptionKey = ""
			return s
		}(), "refresh keys: encryption key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r, err := Keyrings(tt.cfg)
			if err == nil {
				t.Fatalf("Keyrings = %v, %v, nil; want an error", s, r)
			}
			if s != nil || r != nil {
				t.Errorf("Keyrings returned keyrings with the error %v", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}
