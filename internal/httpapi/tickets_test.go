package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// mint asks for a join ticket with the session token and returns it; any answer but 200 fails the test.
func (e *env) mint(s session, body string) string {
	e.t.Helper()
	r := e.do("POST", "/v2/session/ticket", "bearer:"+s.Token, body)
	r.wantOK(e.t)
	ticket, _ := r.Body["ticket"].(string)
	return ticket
}

// jwtHeader decodes a JWT's header without verifying it.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTicket(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Tickets.Vars = config.StringList{"team"}
	e := newEnv(t, cfg)
	s := e.authDevice("device-ticket-1", "?username=ada", `{"team":"red","secret":"not-for-tickets"}`)
	sc := claims(t, s.Token)

	r := e.do("POST", "/v2/session/ticket", "bearer:"+s.Token, `{"audience":"match-7f3a"}`)
	r.wantOK(t)
	ticket := r.Body["ticket"].(string)
	c := claims(t, ticket)
	now := float64(e.clock.Now().Unix())
	want := map[string]any{
		"iss": "latchkey", "sub": sc["uid"], "aud": "match-7f3a", "iat": now, "exp": now + 30, "jti": r.Body["id"],
		"sid": sc["tid"], "usn": "ada", "vrs": map[string]any{"team": "red"}, "typ": "latchkey-ticket",
	}
	if gen, ok := sc["gen"]; ok {
		want["gen"] = gen
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ticket claims %v, want %v", c, want)
	}
	if r.Body["expires_at"] != now+30 {
		t.Errorf("expires_at = %v, want %v", r.Body["expires_at"], now+30)
	}
	if h := jwtHeader(t, ticket); h["alg"] != "EdDSA" || h["typ"] != "JWT" || h["kid"] == "" {
		t.Errorf("ticket header %v", h)
	}
	// A ticket ends with the session token it was minted with at the latest (60 s here), since the
	// session's revocation-feed entry outlives that token only.
	if c := claims(t, e.mint(s, `{"audience":"a","ttl_sec":300}`)); c["exp"] != sc["exp"] {
		t.Errorf("ttl_sec 300 with a token expiring at %v gave a ticket expiring at %v", sc["exp"], c["exp"])
	}
	e.clock.Advance(50 * time.Second)
	if c := claims(t, e.mint(s, `{"audience":"a","ttl_sec":30}`)); c["exp"] != sc["exp"] {
		t.Errorf("a 30 s ticket from a token with 10 s left expires at %v, want the token's %v", c["exp"], sc["exp"])
	}
	e.clock.Advance(-50 * time.Second)
	if c := claims(t, e.mint(s, `{"audience":"`+strings.Repeat("é", 64)+`"}`)); c["aud"] != strings.Repeat("é", 64) {
		t.Errorf("a 128-byte audience came back as %v", c["aud"])
	}

	const badAudience = "Invalid audience - must be 1-128 bytes of UTF-8 without control characters."
	const badTTL = "Invalid ttl_sec - must be at least 1 and at most the server's tickets.max_ttl_sec."
	for _, tt := range []struct{ body, msg string }{
		{`{}`, badAudience},
		{`{"audience":""}`, badAudience},
		{`{"audience":"` + strings.Repeat("a", 129) + `"}`, badAudience},
		{`{"audience":"match\u0007"}`, badAudience},
		{`{"audience":"match\n1"}`, badAudience},
		{`{"audience":"m","ttl_sec":-1}`, badTTL},
		{`{"audience":"m","ttl_sec":301}`, badTTL},
		{`{"audience":"m","ttl_sec":9223372036854775807}`, badTTL},
		{`{"audience":"m","ttl_sec":"x"}`, ""},
		{`[`, ""},
	} {
		e.do("POST", "/v2/session/ticket", "bearer:"+s.Token, tt.body).wantError(t, 400, 3, tt.msg)
	}

	e.do("POST", "/v2/session/ticket", "", `{"audience":"m"}`).wantError(t, 401, 16, "Auth token required")
	e.do("POST", "/v2/session/ticket", "basic", `{"audience":"m"}`).wantError(t, 401, 16, "Auth token invalid")
	e.do("POST", "/v2/session/logout", "bearer:"+s.Token, "{}").wantOK(t)
	e.do("POST", "/v2/session/ticket", "bearer:"+s.Token, `{"audience":"m"}`).wantError(t, 401, 16, "Auth token invalid")
}

func TestTicketRateLimit(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Limits.RefreshRatePerSec, cfg.Limits.RefreshBurst = 1, 2
	e := newEnv(t, cfg)
	s := e.authDevice("device-ticket-limit", "", "")
	e.mint(s, `{"audience":"m"}`)
	e.mint(s, `{"audience":"m"}`)
	r := e.do("POST", "/v2/session/ticket", "bearer:"+s.Token, `{"audience":"m"}`)
	r.wantError(t, 429, 8, "Too many requests, try again later.")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Tickets have a bucket of their own: refreshing still works.
	if _, r := e.refresh(s, ""); r.Status != 200 {
		t.Errorf("refresh after the ticket limit: %d %s", r.Status, r.Raw)
	}
}

func TestJWKS(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-ticket-jwks", "", "")
	ticket := e.mint(s, `{"audience":"m"}`)

	r := e.do("GET", "/.well-known/jwks.json", "", "")
	r.wantOK(t)
	if got := r.Header.Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		t.Fatal(err)
	}
	kid := jwtHeader(t, ticket)["kid"]
	for _, k := range set.Keys {
		if k.Kid != kid {
			continue
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %+v", k)
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("key x %q: %v", k.X, err)
		}
		i := strings.LastIndexByte(ticket, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(ticket[i+1:])
		if !ed25519.Verify(pub, []byte(ticket[:i]), sig) {
			t.Error("the ticket does not verify with the published key")
		}
		return
	}
	t.Errorf("the ticket's kid %v is not published: %s", kid, r.Raw)
}

func TestIntrospectTicket(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Tickets.Vars = config.StringList{"team"}
	e := newEnv(t, cfg)
	s := e.authDevice("device-ticket-intro", "?username=ada", `{"team":"red"}`)
	ticket := e.mint(s, `{"audience":"match-1"}`)
	c := claims(t, ticket)

	// A wrong audience is refused without using the ticket up, so is a missing one.
	e.introspect(url.Values{"token": {ticket}, "audience": {"match-2"}}).inactive(t)
	e.introspect(url.Values{"token": {ticket}}).wantError(t, 400, 3, "Audience is required to introspect a ticket.")
	// As a session token it is nothing.
	e.introspect(url.Values{"token": {ticket}, "token_type_hint": {"session"}}).inactive(t)

	r := e.introspect(url.Values{"token": {ticket}, "audience": {"match-1"}})
	r.wantOK(t)
	want := map[string]any{
		"active": true, "token_type": "ticket", "sub": c["sub"], "aud": "match-1", "exp": c["exp"], "iat": c["iat"],
		"jti": c["jti"], "sid": c["sid"], "username": "ada", "vrs": map[string]any{"team": "red"}, "iss": "latchkey",
	}
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("got %s, want %v", r.Raw, want)
	}
	// Redeemed: the second introspection is inactive, with or without the hint.
	e.introspect(url.Values{"token": {ticket}, "audience": {"match-1"}}).inactive(t)
	e.introspect(url.Values{"token": {ticket}, "audience": {"match-1"}, "token_type_hint": {"ticket"}}).inactive(t)

	// JSON, with the hint.
	second := e.mint(s, `{"audience":"match-1"}`)
	r = e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, "application/json",
		`{"token":"`+second+`","audience":"match-1","token_type_hint":"ticket"}`)
	if r.Body["active"] != true || r.Body["jti"] != claims(t, second)["jti"] {
		t.Errorf("JSON introspection: %s", r.Raw)
	}

	// Expired.
	third := e.mint(s, `{"audience":"match-1","ttl_sec":5}`)
	e.clock.Advance(5 * time.Second)
	e.introspect(url.Values{"token": {third}, "audience": {"match-1"}}).inactive(t)
	// Tampered.
	fourth := e.mint(s, `{"audience":"match-1"}`)
	e.introspect(url.Values{"token": {tamper(fourth)}, "audience": {"match-1"}}).inactive(t)
}

// TestIntrospectTicketOfEndedSession: a ticket dies with its session: logged out, or the account banned.
func TestIntrospectTicketOfEndedSession(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	out := e.authDevice("device-ticket-out", "", "")
	kept := e.authDevice("device-ticket-out", "", "")
	outTicket, keptTicket := e.mint(out, `{"audience":"m"}`), e.mint(kept, `{"audience":"m"}`)
	e.do("POST", "/v2/session/logout", "bearer:"+out.Token, `{"scope":"current"}`).wantOK(t)
	e.introspect(url.Values{"token": {outTicket}, "audience": {"m"}}).inactive(t)
	if r := e.introspect(url.Values{"token": {keptTicket}, "audience": {"m"}}); r.Body["active"] != true {
		t.Errorf("a ticket of the account's other session: %s", r.Raw)
	}

	banned := e.authDevice("device-ticket-banned", "", "")
	ticket := e.mint(banned, `{"audience":"m"}`)
	if _, err := e.srv.Sessions.Ban(context.Background(), claims(t, banned.Token)["uid"].(string), "cheating"); err != nil {
		t.Fatal(err)
	}
	e.introspect(url.Values{"token": {ticket}, "audience": {"m"}}).inactive(t)
}

// TestTicketAcrossNodes: two nodes on one PostgreSQL database share the ticket keys and the redemptions:
// a ticket minted on A is redeemed once, on B, and is inactive on A afterwards.
func TestTicketAcrossNodes(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Database.Address = config.StringList{pgtest.NewDatabase(t)}
	var nodes [2]string
	for i := range nodes {
		c := cfg
		c.DataDir = t.TempDir()
		_, nodes[i] = servertest.Start(t, c, server.Options{})
	}
	token := servertest.Authenticate(t, nodes[0], "device", "device-ticket-nodes", nil)
	a := servertest.Do(t, nodes[0], "POST", "/v2/session/ticket", "Bearer "+token, `{"audience":"m"}`)
	ticket, _ := a.JSON["ticket"].(string)
	if a.Status != 200 || ticket == "" {
		t.Fatalf("minting on A: %d %s", a.Status, a.Body)
	}
	body := `{"token":"` + ticket + `","audience":"m"}`
	if a := servertest.Do(t, nodes[1], "POST", "/latchkey/v1/introspect", "Bearer "+verifierKey, body); a.JSON["active"] != true {
		t.Errorf("first introspection, on B: %d %s", a.Status, a.Body)
	}
	for i, n := range nodes {
		if a := servertest.Do(t, n, "POST", "/latchkey/v1/introspect", "Bearer "+verifierKey, body); a.Body != `{"active":false}` {
			t.Errorf("introspection again, on node %d: %d %s", i, a.Status, a.Body)
		}
	}
}

// tamper changes one character of the token's signature that carries six whole bits (the third from the
// end), so the signature's bytes always change. (The last characters carry padding bits: replacing them can
// leave the bytes as they were.)
func tamper(token string) string {
	b := []byte(token)
	i := len(b) - 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
