package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// verifierKey is the key game servers present in these tests.
const verifierKey = "verifier-key-0123456789"

func verifierConfig(t testing.TB) config.Config {
	cfg := testConfig(t)
	cfg.Tickets.VerifierKeys = config.StringList{"another-verifier-key-000", verifierKey}
	return cfg
}

// introspect posts a form-encoded introspection request with the verifier key.
func (e *env) introspect(form url.Values) response {
	e.t.Helper()
	return e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, formType, form.Encode())
}

const formType = "application/x-www-form-urlencoded"

// inactive checks RFC 7662's answer for a token that is not active: 200 and nothing but active false.
func (r response) inactive(t testing.TB) {
	t.Helper()
	if r.Status != 200 || r.Raw != `{"active":false}` {
		t.Errorf("got %d %s, want 200 {\"active\":false}", r.Status, r.Raw)
	}
}

func TestVerifierEndpointsOff(t *testing.T) {
	e := newEnv(t, testConfig(t))
	e.do("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, "token=x").wantError(t, 404, 5, "Not Found")
	e.do("GET", "/latchkey/v1/revocations", "bearer:"+verifierKey, "").wantError(t, 404, 5, "Not Found")
}

func TestVerifierKey(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	for _, path := range []string{"/latchkey/v1/introspect", "/latchkey/v1/revocations"} {
		method := "POST"
		if path == "/latchkey/v1/revocations" {
			method = "GET"
		}
		e.do(method, path, "", "").wantError(t, 401, 16, "Verifier key required")
		e.do(method, path, "bearer:verifier-key-012345678", "").wantError(t, 401, 16, "Verifier key invalid")
		e.do(method, path, "bearer:"+verifierKey+"x", "").wantError(t, 401, 16, "Verifier key invalid")
		e.do(method, path, "basic:"+verifierKey, "").wantError(t, 401, 16, "Verifier key invalid")
		e.do(method, path, "basic", "").wantError(t, 401, 16, "Verifier key invalid")
	}
	// Either configured key is accepted.
	e.do("GET", "/latchkey/v1/revocations", "bearer:another-verifier-key-000", "").wantOK(t)
	e.do("GET", "/latchkey/v1/revocations", "bearer:"+verifierKey, "").wantOK(t)
}

func TestIntrospectSession(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	s := e.authDevice("device-introspect", "?username=intro", `{"team":"red"}`)
	c := claims(t, s.Token)

	want := map[string]any{
		"active": true, "token_type": "session", "sub": c["uid"], "exp": c["exp"], "iat": c["iat"],
		"sid": c["tid"], "username": "intro", "vrs": map[string]any{"team": "red"},
	}
	for name, r := range map[string]response{
		"form":           e.introspect(url.Values{"token": {s.Token}}),
		"form with hint": e.introspect(url.Values{"token": {s.Token}, "token_type_hint": {"session"}}),
		"json": e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, "application/json; charset=utf-8",
			`{"token":"`+s.Token+`","tokenTypeHint":"session"}`),
		"json as curl -d sends it": e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, formType,
			` {"token":"`+s.Token+`"}`),
	} {
		r.wantOK(t)
		if !reflect.DeepEqual(r.Body, want) {
			t.Errorf("%s: got %s, want %v", name, r.Raw, want)
		}
		if r.Header.Get("Cache-Control") == "" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", name, r.Header)
		}
	}
	// Introspecting a session token does not use it up.
	if r := e.introspect(url.Values{"token": {s.Token}}); r.Body["active"] != true {
		t.Errorf("second introspection of a session token: %s", r.Raw)
	}

	e.introspect(url.Values{"token": {"not-a-token"}}).inactive(t)
	e.introspect(url.Values{"token": {s.Refresh}}).inactive(t) // a refresh token is not a session token
	e.introspect(url.Values{}).wantError(t, 400, 3, "Token is required.")
	e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, formType, "token=%zz").
		wantError(t, 400, 3, "Invalid form-encoded request body.")
	e.doTyped("POST", "/latchkey/v1/introspect", "bearer:"+verifierKey, "application/json", `{"token":1}`).
		wantError(t, 400, 3, "")
	// A token in the URL is not read: it would end up in access logs.
	e.doTyped("POST", "/latchkey/v1/introspect?token="+url.QueryEscape(s.Token), "bearer:"+verifierKey, formType, "").
		wantError(t, 400, 3, "Token is required.")

	e.clock.Advance(time.Duration(e.cfg.Session.TokenExpirySec+1) * time.Second)
	e.introspect(url.Values{"token": {s.Token}}).inactive(t)
}

func TestIntrospectEndedSessions(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	out := e.authDevice("device-logged-out", "", "")
	banned := e.authDevice("device-banned-one", "", "")
	for _, s := range []session{out, banned} {
		if r := e.introspect(url.Values{"token": {s.Token}}); r.Body["active"] != true {
			t.Fatalf("live session inactive: %s", r.Raw)
		}
	}
	e.do("POST", "/v2/session/logout", "bearer:"+out.Token, "{}").wantOK(t)
	e.introspect(url.Values{"token": {out.Token}}).inactive(t)

	uid := claims(t, banned.Token)["uid"].(string)
	if _, err := e.srv.Sessions.Ban(context.Background(), uid, "cheating"); err != nil {
		t.Fatal(err)
	}
	e.introspect(url.Values{"token": {banned.Token}}).inactive(t)
}

// feed reads the revocation feed with the verifier key.
func (e *env) feed(query string) (page feedPage, r response) {
	e.t.Helper()
	r = e.do("GET", "/latchkey/v1/revocations"+query, "bearer:"+verifierKey, "")
	if r.Status == 200 {
		if err := json.Unmarshal([]byte(r.Raw), &page); err != nil {
			e.t.Fatalf("feed answer %s: %v", r.Raw, err)
		}
	}
	return page, r
}

type feedPage struct {
	Revocations []struct {
		Seq        int64  `json:"seq"`
		SessionID  string `json:"session_id"`
		UserID     string `json:"user_id"`
		ExpiresAt  int64  `json:"expires_at"`
		RevokedAt  int64  `json:"revoked_at"`
		Generation int64  `json:"generation"`
		Keep       string `json:"keep"`
	} `json:"revocations"`
	Next int64 `json:"next"`
}

func TestRevocationFeed(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	p, r := e.feed("")
	if r.Status != 200 || r.Raw != `{"revocations":[],"next":0}` {
		t.Fatalf("empty feed: %d %s", r.Status, r.Raw)
	}

	out := e.authDevice("device-feed-logout", "", "")
	banned := e.authDevice("device-feed-banned", "", "")
	e.do("POST", "/v2/session/logout", "bearer:"+out.Token, `{"scope":"current"}`).wantOK(t)
	bannedID := claims(t, banned.Token)["uid"].(string)
	if _, err := e.srv.Sessions.Ban(context.Background(), bannedID, "cheating"); err != nil {
		t.Fatal(err)
	}

	p, _ = e.feed("?after=0")
	if len(p.Revocations) != 2 {
		t.Fatalf("feed after 0 has %d entries, want 2: %+v", len(p.Revocations), p)
	}
	logout, cut := p.Revocations[0], p.Revocations[1]
	oc := claims(t, out.Token)
	if logout.SessionID != oc["tid"] || logout.UserID != oc["uid"] || logout.RevokedAt != e.clock.Now().Unix() ||
		logout.ExpiresAt < int64(oc["exp"].(float64)) {
		t.Errorf("logout entry %+v does not end session %v of %v", logout, oc["tid"], oc["uid"])
	}
	bc := claims(t, banned.Token)
	bgen, _ := bc["gen"].(float64)
	if cut.SessionID != "" || cut.UserID != bannedID || cut.Generation <= int64(bgen) || cut.Keep != "" {
		t.Errorf("ban entry %+v is not a cut of every session of %s", cut, bannedID)
	}
	if p.Next != cut.Seq || cut.Seq <= logout.Seq {
		t.Errorf("next = %d, entries %d, %d", p.Next, logout.Seq, cut.Seq)
	}

	p, _ = e.feed("?limit=1")
	if len(p.Revocations) != 1 || p.Next != logout.Seq {
		t.Errorf("limit 1: %+v", p)
	}
	p, _ = e.feed(fmt.Sprintf("?after=%d", p.Next))
	if len(p.Revocations) != 1 || p.Revocations[0].Seq != cut.Seq {
		t.Errorf("after the first entry: %+v", p)
	}
	p, r = e.feed(fmt.Sprintf("?after=%d&wait_ms=0", cut.Seq))
	if len(p.Revocations) != 0 || p.Next != cut.Seq {
		t.Errorf("after the last entry: %s", r.Raw)
	}

	// Entries that can no longer end a valid token are left out.
	e.clock.Advance(time.Duration(e.cfg.Session.RefreshTokenExpirySec*2) * time.Second)
	if p, _ = e.feed(""); len(p.Revocations) != 0 {
		t.Errorf("expired entries still served: %+v", p)
	}

	for _, tt := range []struct{ query, msg string }{
		{"?after=-1", "Invalid after - must be a feed sequence number, 0 or more."},
		{"?after=x", "Invalid after - must be a feed sequence number, 0 or more."},
		{"?limit=0", "Invalid limit - limit must be between 1 and 1000."},
		{"?limit=1001", "Invalid limit - limit must be between 1 and 1000."},
		{"?wait_ms=-1", "Invalid wait_ms - must be between 0 and 25000."},
		{"?wait_ms=25001", "Invalid wait_ms - must be between 0 and 25000."},
	} {
		_, r := e.feed(tt.query)
		r.wantError(t, 400, 3, tt.msg)
	}
}

// feedAPI serves the verifier endpoints of srv's sessions with at most one long-poll waiting, so that a
// test can tell when a long-poll is parked: another one is then refused.
func feedAPI(t *testing.T, srv *server.Server) (string, *httpapi.API) {
	t.Helper()
	api := httpapi.New(httpapi.Deps{Accounts: srv.Accounts, Sessions: srv.Sessions, VerifierKeys: []string{verifierKey}, MaxFeedWaits: 1})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	return hs.URL, api
}

// get sends a GET with the verifier key to base+path; it may run outside the test's goroutine, so a
// request that gets no answer is status 0.
func get(base, path string) (status int, header http.Header, body map[string]any, raw string) {
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+verifierKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &body)
	return res.StatusCode, res.Header, body, string(b)
}

// polled is a long-poll's answer.
type polled struct {
	status int
	page   feedPage
	raw    string
}

// longPoll starts a long-poll of the feed after the sequence, and returns the channel its answer arrives
// on, once it is parked (another long-poll is refused with 503).
func longPoll(t *testing.T, base string, after int64) <-chan polled {
	t.Helper()
	done := make(chan polled, 1)
	go func() {
		for range 100 { // retried while the probe below holds the one slot
			status, _, _, raw := get(base, fmt.Sprintf("/latchkey/v1/revocations?after=%d&wait_ms=20000", after))
			if status != http.StatusServiceUnavailable {
				p := polled{status: status, raw: raw}
				json.Unmarshal([]byte(raw), &p.page)
				done <- p
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, header, body, raw := get(base, fmt.Sprintf("/latchkey/v1/revocations?after=%d&wait_ms=1", after))
		if status == http.StatusServiceUnavailable {
			if body["code"] != float64(14) || header.Get("Retry-After") != "1" {
				t.Errorf("a long-poll beyond the bound: %d %v %s", status, header, raw)
			}
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("the long-poll was not parked within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevocationFeedWakes: a long-poll waiting after the last entry answers as soon as this node revokes a
// session, and while it waits, a long-poll beyond the bound is refused with 503.
func TestRevocationFeedWakes(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	base, _ := feedAPI(t, e.srv)
	s := e.authDevice("device-feed-wakes", "", "")
	done := longPoll(t, base, 0)
	e.do("POST", "/v2/session/logout", "bearer:"+s.Token, "{}").wantOK(t)
	select {
	case p := <-done:
		if p.status != 200 || len(p.page.Revocations) != 1 || p.page.Revocations[0].UserID != claims(t, s.Token)["uid"] {
			t.Errorf("woken long-poll answered %d %s", p.status, p.raw)
		}
	case <-time.After(15 * time.Second): // below the poll's 20 s: an answer here was woken, not timed out
		t.Fatal("the long-poll did not answer after the logout")
	}
}

// TestRevocationFeedDrains: when the node starts shutting down, a parked long-poll answers at once, empty,
// and later ones do not wait.
func TestRevocationFeedDrains(t *testing.T) {
	e := newEnv(t, verifierConfig(t))
	base, api := feedAPI(t, e.srv)
	done := longPoll(t, base, 0)
	api.Drain()
	select {
	case p := <-done:
		if p.status != 200 || p.raw != `{"revocations":[],"next":0}` {
			t.Errorf("drained long-poll answered %d %s", p.status, p.raw)
		}
	case <-time.After(15 * time.Second): // below the poll's 20 s
		t.Fatal("the long-poll did not answer when the node drained")
	}
	if status, _, _, raw := get(base, "/latchkey/v1/revocations?wait_ms=20000"); status != 200 || raw != `{"revocations":[],"next":0}` {
		t.Errorf("a long-poll after the drain answered %d %s", status, raw)
	}
}

// TestRevocationFeedWithinDeadline: a long-poll longer than the request deadline (socket.write_timeout_ms
// less a margin) ends before it with an empty answer, rather than a timeout error or a cut connection.
func TestRevocationFeedWithinDeadline(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Socket.WriteTimeoutMs = 2500 // a request deadline of 2 s
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	base, _ := servertest.Run(t, srv)
	if status, _, _, raw := get(base, "/latchkey/v1/revocations?wait_ms=20000"); status != 200 || raw != `{"revocations":[],"next":0}` {
		t.Errorf("a long-poll beyond the request deadline answered %d %s", status, raw)
	}
}

// TestRevocationFeedAcrossNodes: on two nodes sharing a PostgreSQL database, a long-poll parked on B
// answers with a logout made on A, once B's feed follower has read it.
func TestRevocationFeedAcrossNodes(t *testing.T) {
	cfg := verifierConfig(t)
	cfg.Database.Address = config.StringList{pgtest.NewDatabase(t)}
	nodes := make([]string, 2)
	var b *server.Server
	for i := range nodes {
		c := cfg
		c.DataDir = t.TempDir()
		srv, err := server.New(context.Background(), c, server.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		nodes[i], _ = servertest.Run(t, srv)
		b = srv
	}
	token := servertest.Authenticate(t, nodes[0], "device", "device-across-nodes", nil)
	base, _ := feedAPI(t, b)
	_, _, body, raw := get(base, "/latchkey/v1/revocations")
	latest, ok := body["next"].(float64)
	if !ok {
		t.Fatalf("feed: %s", raw)
	}

	done := longPoll(t, base, int64(latest))
	start := time.Now()
	if a := servertest.Do(t, nodes[0], "POST", "/v2/session/logout", "Bearer "+token, `{"scope":"current"}`); a.Status != 200 {
		t.Fatalf("logout on A: %d %s", a.Status, a.Body)
	}
	select {
	case p := <-done:
		t.Logf("B's long-poll answered %v after A's logout", time.Since(start))
		if p.status != 200 || len(p.page.Revocations) != 1 || p.page.Revocations[0].SessionID != servertest.Claims(t, token)["tid"] {
			t.Errorf("B's long-poll answered %d %s", p.status, p.raw)
		}
	case <-time.After(15 * time.Second): // below the poll's 20 s: an answer here was woken, not timed out
		t.Fatal("B's long-poll did not answer after A's logout")
	}
}
