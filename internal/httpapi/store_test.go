package httpapi_test

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// holdWriteLock takes the SQLite database's write lock from another connection, as another process
// would, until the returned function is called.
func holdWriteLock(t *testing.T, e *env) (release func()) {
	t.Helper()
	// With a busy timeout, as another process would have: the server holds the lock for moments of its own
	// (commits, checkpoints).
	db, err := sql.Open("sqlite", filepath.Join(e.cfg.DataDir, "latchkey.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		conn.ExecContext(t.Context(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
}

// TestReadyz: /readyz answers 200 while the store takes writes and 503 (code 14, Retry-After) while it
// cannot, from a write probe whose answer is reused for a second, so that the endpoint cannot load the
// store; /healthcheck stays 200 throughout.
func TestReadyz(t *testing.T) {
	e := newEnv(t, testConfig(t))
	r := e.do("GET", "/readyz", "", "")
	r.wantOK(t)
	if strings.TrimSpace(r.Raw) != "{}" {
		t.Errorf("body = %q, want {}", r.Raw)
	}
	if r := e.do("HEAD", "/readyz", "", ""); r.Status != http.StatusOK {
		t.Errorf("HEAD /readyz = %d, want 200", r.Status)
	}
	e.do("POST", "/readyz", "", "").wantError(t, 501, 12, "Method Not Allowed")

	release := holdWriteLock(t, e)
	// The answer of the first probe is reused until a second has passed.
	e.do("GET", "/readyz", "", "").wantOK(t)
	e.clock.Advance(1100 * time.Millisecond)
	r = e.do("GET", "/readyz", "", "")
	r.wantError(t, 503, 14, "Not ready: the store cannot take writes.")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	start := time.Now()
	e.do("GET", "/readyz", "", "").wantError(t, 503, 14, "")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a second /readyz within the second took %v: it probed the store again", d)
	}
	e.do("GET", "/healthcheck", "", "").wantOK(t)

	release()
	e.do("GET", "/readyz", "", "").wantError(t, 503, 14, "") // still the cached answer
	e.clock.Advance(1100 * time.Millisecond)
	e.do("GET", "/readyz", "", "").wantOK(t)
}

// TestWriteFaultAnswers503: a store that cannot write answers writes with 503, code 14 and Retry-After
// instead of a 500, keeps serving requests that only read or check a token, and recovers by itself.
func TestWriteFaultAnswers503(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-fault-0001", "", "")
	// PRAGMA query_only makes the write connection answer SQLITE_READONLY, as a read-only file does.
	if _, err := e.srv.Store().DB().ExecContext(t.Context(), "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-fault-0002"}`)
	r.wantError(t, 503, 14, "Service temporarily unavailable, try again.")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(t)

	// The faulty connection was replaced; nothing of the failed login was written.
	r = e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-fault-0002"}`)
	r.wantOK(t)
	if r.Body["created"] != true {
		t.Errorf("login after the fault: created = %v, want true (the failed one wrote nothing)", r.Body["created"])
	}
}

// TestTokensOfAnotherStore: tokens carry the store's id as sid; a token whose sid names another store (one
// minted against a wiped or replaced database) is refused as invalid, session and refresh token alike,
// while tokens without the claim (Nakama's, older Latchkey versions') are accepted.
func TestTokensOfAnotherStore(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-store-0001", "", "")
	sid := e.srv.Sessions.StoreID()
	if got := claims(t, s.Token)["sid"]; got != sid || sid == "" {
		t.Errorf("session token sid = %v, want the store id %q", got, sid)
	}
	if got := claims(t, s.Refresh)["sid"]; got != sid {
		t.Errorf("refresh token sid = %v, want the store id %q", got, sid)
	}

	skeys, rkeys, err := server.Keyrings(e.cfg.Session)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().Unix()
	resign := func(kr *tokens.Keyring, tok, storeID string) string {
		t.Helper()
		c, err := kr.Verify(tok, now)
		if err != nil {
			t.Fatal(err)
		}
		c.StoreID = storeID
		return kr.Sign(&c)
	}
	other := storagetest.NewID()
	e.do("GET", "/v2/account", "bearer:"+resign(skeys, s.Token, other), "").wantError(t, 401, 16, "Auth token invalid")
	e.do("POST", "/v2/account/session/refresh", "basic", `{"token":"`+resign(rkeys, s.Refresh, other)+`"}`).
		wantError(t, 401, 16, "Refresh token invalid or expired.")

	e.do("GET", "/v2/account", "bearer:"+resign(skeys, s.Token, ""), "").wantOK(t)
	e.do("POST", "/v2/account/session/refresh", "basic", `{"token":"`+resign(rkeys, s.Refresh, "")+`"}`).wantOK(t)
}

// TestTokenOfAGoneAccount: a token that verifies but whose account no longer exists in the store (deleted on
// another node whose feed entry has not reached this one yet, or a Nakama token of an account never imported)
// is refused as an invalid token, 401, on every session route, never answered 404 for the account.
func TestTokenOfAGoneAccount(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-gone-0001", "", "")
	skeys, _, err := server.Keyrings(e.cfg.Session)
	if err != nil {
		t.Fatal(err)
	}
	c, err := skeys.Verify(s.Token, e.clock.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	c.UserID = storagetest.NewID()
	gone := skeys.Sign(&c)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v2/account", ""},
		{"PUT", "/v2/account", `{"display_name":"x"}`},
		{"POST", "/v2/account/link/custom", `{"id":"custom-gone-0001"}`},
	} {
		e.do(r.method, r.path, "bearer:"+gone, r.body).wantError(t, 401, 16, "Auth token invalid")
	}
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(t)
}
