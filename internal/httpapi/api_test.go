package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/testclock"
)

type env struct {
	t     testing.TB
	srv   *server.Server
	http  *httptest.Server
	clock *testclock.Clock
	cfg   config.Config
}

func testConfig(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Auth.BcryptCost = 4
	return cfg
}

func newEnv(t testing.TB, cfg config.Config, opts ...func(*server.Options)) *env {
	t.Helper()
	clock := testclock.New(time.Now().UTC().Truncate(time.Second))
	o := server.Options{Clock: clock.Now}
	for _, f := range opts {
		f(&o)
	}
	srv, err := server.New(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.API)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &env{t: t, srv: srv, http: hs, clock: clock, cfg: cfg}
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// with returns a copy of e that reports to t, for use inside a fuzz function or a subtest.
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// do sends a request; auth is "basic", "basic:KEY", "bearer:TOKEN", a raw header value or "".
func (e *env) do(method, path, auth, body string) response {
	e.t.Helper()
	return e.doTyped(method, path, auth, "", body)
}

// doTyped is do with a Content-Type header (none if empty).
func (e *env) doTyped(method, path, auth, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch {
	case auth == "basic":
		req.SetBasicAuth(e.cfg.Socket.ServerKey, "")
	case strings.HasPrefix(auth, "basic:"):
		req.SetBasicAuth(strings.TrimPrefix(auth, "basic:"), "")
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	case auth != "":
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			e.t.Fatalf("%s %s: response is not JSON: %q", method, path, raw)
		}
	}
	return out
}

// wantError checks Nakama's error body.
func (r response) wantError(t testing.TB, status int, code float64, msg string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %s)", r.Status, status, r.Raw)
	}
	if got := r.Body["code"]; got != code {
		t.Errorf("code = %v, want %v (body %s)", got, code, r.Raw)
	}
	if msg != "" && r.Body["message"] != msg {
		t.Errorf("message = %q, want %q", r.Body["message"], msg)
	}
}

func (r response) wantOK(t testing.TB) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", r.Status, r.Raw)
	}
}

type session struct{ Token, Refresh string }

func (e *env) authDevice(id, query, vars string) session {
	e.t.Helper()
	body := `{"id":"` + id + `"`
	if vars != "" {
		body += `,"vars":` + vars
	}
	r := e.do("POST", "/v2/account/authenticate/device"+query, "basic", body+"}")
	r.wantOK(e.t)
	return session{Token: r.Body["token"].(string), Refresh: r.Body["refresh_token"].(string)}
}

func (e *env) refresh(s session, vars string) (session, response) {
	e.t.Helper()
	body := `{"token":"` + s.Refresh + `"`
	if vars != "" {
		body += `,"vars":` + vars
	}
	r := e.do("POST", "/v2/account/session/refresh", "basic", body+"}")
	if r.Status != http.StatusOK {
		return session{}, r
	}
	return session{Token: r.Body["token"].(string), Refresh: r.Body["refresh_token"].(string)}, r
}

// claims decodes a JWT payload without verifying it, as clients do.
var claims = servertest.Claims
