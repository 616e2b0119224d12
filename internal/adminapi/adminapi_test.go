package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/adminapi"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

const testKey = "admin-key-for-tests-0123456789"

type env struct {
	t   *testing.T
	srv *server.Server
	url string
	log *servertest.LogBuffer
}

// newEnv starts a real server on a fresh SQLite database and serves its admin API over loopback. The log
// is checked at the end never to contain the admin key.
func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Admin.Key = testKey
	logs := &servertest.LogBuffer{}
	srv, err := server.New(context.Background(), cfg, server.Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.AdminAPI())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if strings.Contains(logs.String(), testKey) {
			t.Errorf("the log contains the admin key:\n%s", logs)
		}
	})
	return &env{t: t, srv: srv, url: hs.URL, log: logs}
}

type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a request with the admin key, or with the Authorization header auth when it is not "key".
func (e *env) do(method, path, auth, body string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	switch auth {
	case "key":
		req.Header.Set("Authorization", "Bearer "+testKey)
	case "":
	default:
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		e.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
	}
	return a
}

func (e *env) get(path string) answer { e.t.Helper(); return e.do("GET", path, "key", "") }

func (a answer) wantError(t *testing.T, status int, code float64) {
	t.Helper()
	if a.Status != status || a.Body["code"] != code {
		t.Fatalf("got %d %s, want %d with code %v", a.Status, a.Raw, status, code)
	}
	if msg, _ := a.Body["message"].(string); msg == "" {
		t.Errorf("error without a message: %s", a.Raw)
	}
}

func (a answer) wantOK(t *testing.T) answer {
	t.Helper()
	if a.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", a.Status, a.Raw)
	}
	return a
}

// player creates an account with a device, an email, a custom id and a username, and starts n sessions
// for it; it returns the account and the session tokens, newest last.
func (e *env) player(name string, n int) (*storage.User, []sessions.Issued) {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.srv.Accounts.AuthenticateEmail(ctx, name+"@example.com", "password-1234", name, true)
	if err != nil {
		e.t.Fatal(err)
	}
	uid := res.User.ID
	if err := e.srv.Accounts.Link(ctx, uid, storage.IdentityDevice, name+"-device-0001", ""); err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.Accounts.Link(ctx, uid, storage.IdentityCustom, name+"-custom", ""); err != nil {
		e.t.Fatal(err)
	}
	u, err := e.srv.Accounts.AccountFresh(ctx, uid)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []sessions.Issued
	for i := range n {
		is, err := e.srv.Sessions.Issue(ctx, u, nil, sessions.Meta{UserAgent: fmt.Sprintf("agent-%d", i), ClientIP: "203.0.113.7"})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, is)
	}
	return u, out
}

func (e *env) events(uid string) []storage.Event {
	e.t.Helper()
	evs, err := e.srv.Sessions.Events(context.Background(), uid, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func hasEvent(evs []storage.Event, kind storage.EventKind, reason string) bool {
	for _, ev := range evs {
		if ev.Kind == kind && strings.HasPrefix(ev.Reason, reason) {
			return true
		}
	}
	return false
}

const unknownID = "0190a0a0-0000-7000-8000-000000000001"

func TestAuth(t *testing.T) {
	e := newEnv(t)
	u, _ := e.player("authplayer", 0)
	for _, tc := range []struct {
		name, auth string
		status     int
		msg        string
	}{
		{"no header", "", 401, "Admin key required."},
		{"basic", "Basic " + testKey, 401, "Admin key required."},
		{"bare key", testKey, 401, "Admin key required."},
		{"wrong key", "Bearer " + testKey + "x", 401, "Admin key invalid."},
		{"prefix of the key", "Bearer " + testKey[:16], 401, "Admin key invalid."},
		{"empty key", "Bearer ", 401, "Admin key required."}, // the trailing space does not reach the server
		{"right key", "Bearer " + testKey, 200, ""},
		{"scheme in another case", "bearer " + testKey, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/users/" + u.ID, "/v1/nowhere"} {
				a := e.do("GET", path, tc.auth, "")
				if tc.status == 200 {
					if path == "/v1/nowhere" {
						a.wantError(t, 404, 5)
					} else {
						a.wantOK(t)
					}
					continue
				}
				// Unauthenticated callers get the same answer whether the route exists or not.
				a.wantError(t, tc.status, 16)
				if a.Body["message"] != tc.msg {
					t.Errorf("%s: message %q, want %q", path, a.Body["message"], tc.msg)
				}
				if a.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", path)
				}
			}
		})
	}

	// Two Authorization headers are refused even when one holds the key.
	req, _ := http.NewRequest("GET", e.url+"/v1/users/"+u.ID, nil)
	req.Header.Add("Authorization", "Bearer "+testKey)
	req.Header.Add("Authorization", "Bearer other")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("two Authorization headers: %d, want 401", res.StatusCode)
	}
	if !strings.Contains(e.log.String(), "admin API: request refused") {
		t.Errorf("refused requests are not logged")
	}
}

// TestNoKeyRefusesAll: an API built without a key (which the server never starts) refuses every key,
// the empty one included.
func TestNoKeyRefusesAll(t *testing.T) {
	e := newEnv(t)
	hs := httptest.NewServer(adminapi.New(adminapi.Deps{Accounts: e.srv.Accounts, Sessions: e.srv.Sessions}))
	defer hs.Close()
	for _, auth := range []string{"Bearer ", "Bearer x", "Bearer " + testKey} {
		req, _ := http.NewRequest("GET", hs.URL+"/v1/users/"+unknownID, nil)
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("%q: %d, want 401", auth, res.StatusCode)
		}
	}
}

func TestLookup(t *testing.T) {
	e := newEnv(t)
	u, _ := e.player("lookup", 1)
	e.player("someoneelse", 0)
	for _, path := range []string{
		"/v1/users/" + u.ID,
		"/v1/users?username=lookup",
		"/v1/users?email=LookUp@Example.com",
		"/v1/users?device_id=lookup-device-0001",
		"/v1/users?custom_id=lookup-custom",
	} {
		t.Run(path, func(t *testing.T) {
			a := e.get(path).wantOK(t)
			user, _ := a.Body["user"].(map[string]any)
			if user["id"] != u.ID || user["username"] != "lookup" || user["create_time"] == nil || user["update_time"] == nil {
				t.Errorf("user = %v", user)
			}
			if a.Body["email"] != "lookup@example.com" || a.Body["custom_id"] != "lookup-custom" || a.Body["banned"] != false {
				t.Errorf("account = %s", a.Raw)
			}
			if devs, _ := a.Body["devices"].([]any); len(devs) != 1 || devs[0].(map[string]any)["id"] != "lookup-device-0001" {
				t.Errorf("devices = %v", a.Body["devices"])
			}
			if _, ok := a.Body["disable_time"]; ok {
				t.Errorf("an account never banned has a disable_time: %s", a.Raw)
			}
			if strings.Contains(a.Raw, "password") || strings.Contains(a.Raw, string(u.Password)) {
				t.Errorf("the answer carries the password hash: %s", a.Raw)
			}
		})
	}
	for _, tc := range []struct {
		path   string
		status int
		code   float64
	}{
		{"/v1/users", 400, 3},
		{"/v1/users?username=", 400, 3},
		{"/v1/users?username=lookup&email=lookup@example.com", 400, 3},
		{"/v1/users?nickname=lookup", 400, 3},
		{"/v1/users?username=nobody", 404, 5},
		{"/v1/users?username=LOOKUP", 404, 5}, // usernames match exactly
		{"/v1/users?email=nobody@example.com", 404, 5},
		{"/v1/users?device_id=nobody-device", 404, 5},
		{"/v1/users?custom_id=nobody-custom", 404, 5},
		{"/v1/users/" + unknownID, 404, 5},
		{"/v1/users/not-a-uuid", 400, 3},
		{"/v1/users/" + strings.ToUpper(u.ID), 400, 3}, // ids are canonical lowercase
	} {
		t.Run(tc.path, func(t *testing.T) { e.get(tc.path).wantError(t, tc.status, tc.code) })
	}
}

// TestUnknownAndMalformedUser: every route answers an unknown user 404 (code 5) and a malformed id 400
// (code 3), and changes nothing.
func TestUnknownAndMalformedUser(t *testing.T) {
	e := newEnv(t)
	const sid = "0190a0a0-0000-7000-8000-0000000000aa"
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/users/%s"},
		{"DELETE", "/v1/users/%s"},
		{"GET", "/v1/users/%s/sessions"},
		{"DELETE", "/v1/users/%s/sessions"},
		{"DELETE", "/v1/users/%s/sessions/" + sid},
		{"GET", "/v1/users/%s/events"},
		{"POST", "/v1/users/%s/ban"},
		{"POST", "/v1/users/%s/unban"},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e.do(rt.method, fmt.Sprintf(rt.path, unknownID), "key", "").wantError(t, 404, 5)
			e.do(rt.method, fmt.Sprintf(rt.path, "12345"), "key", "").wantError(t, 400, 3)
		})
	}
	if evs := e.events(unknownID); len(evs) != 0 {
		t.Errorf("actions on an unknown user recorded events: %+v", evs)
	}
}

func TestSessionsPagination(t *testing.T) {
	e := newEnv(t)
	u, issued := e.player("pager", 5)
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		path := "/v1/users/" + u.ID + "/sessions?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := e.get(path).wantOK(t)
		list, _ := a.Body["sessions"].([]any)
		if len(list) > 2 {
			t.Fatalf("page of %d sessions with limit 2", len(list))
		}
		for _, s := range list {
			m := s.(map[string]any)
			seen = append(seen, m["id"].(string))
			if m["client_ip"] != "203.0.113.7" || !strings.HasPrefix(m["user_agent"].(string), "agent-") || m["expire_time"] == "" {
				t.Errorf("session = %v", m)
			}
		}
		cursor, _ = a.Body["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d sessions over the pages, want 5: %v", len(seen), seen)
	}
	for i, is := range issued { // newest first
		if seen[len(seen)-1-i] != is.Claims.TokenID {
			t.Errorf("order: %v, issued %d = %s", seen, i, is.Claims.TokenID)
		}
	}
	all := e.get("/v1/users/" + u.ID + "/sessions").wantOK(t)
	if list, _ := all.Body["sessions"].([]any); len(list) != 5 || all.Body["cursor"] != nil {
		t.Errorf("the default page: %s", all.Raw)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=two", "limit=-1", "cursor=not-a-cursor"} {
		e.get("/v1/users/"+u.ID+"/sessions?"+q).wantError(t, 400, 3)
	}
}

func TestEventsPagination(t *testing.T) {
	e := newEnv(t)
	u, _ := e.player("eventful", 3) // three session_created events
	e.do("POST", "/v1/users/"+u.ID+"/ban", "key", `{"reason":"aimbot"}`).wantOK(t)
	a := e.get("/v1/users/" + u.ID + "/events").wantOK(t)
	list, _ := a.Body["events"].([]any)
	if len(list) < 5 {
		t.Fatalf("events: %s", a.Raw)
	}
	first := list[0].(map[string]any)
	kinds := map[string]bool{}
	for _, ev := range list {
		kinds[ev.(map[string]any)["kind"].(string)] = true
	}
	for _, k := range []string{"session_created", "user_banned", "session_revoked"} {
		if !kinds[k] {
			t.Errorf("no %s event: %s", k, a.Raw)
		}
	}
	if a.Body["next_before"] != nil {
		t.Errorf("a complete page has next_before: %s", a.Raw)
	}

	var ids []float64
	before := ""
	for page := 0; page < 10; page++ {
		p := e.get("/v1/users/" + u.ID + "/events?limit=2" + before).wantOK(t)
		evs, _ := p.Body["events"].([]any)
		for _, ev := range evs {
			ids = append(ids, ev.(map[string]any)["id"].(float64))
		}
		next, _ := p.Body["next_before"].(float64)
		if next == 0 {
			break
		}
		before = fmt.Sprintf("&before=%d", int64(next))
	}
	if len(ids) != len(list) || ids[0] != first["id"] {
		t.Errorf("paged ids %v, one page had %d events starting at %v", ids, len(list), first["id"])
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Errorf("ids not newest first: %v", ids)
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "before=0", "before=x"} {
		e.get("/v1/users/"+u.ID+"/events?"+q).wantError(t, 400, 3)
	}
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	u, issued := e.player("ender", 2)
	other, otherIssued := e.player("bystander", 1)
	sid := issued[0].Claims.TokenID
	path := "/v1/users/" + u.ID + "/sessions/" + sid

	// Another user's session is not found under this user, and stays live.
	e.do("DELETE", "/v1/users/"+u.ID+"/sessions/"+otherIssued[0].Claims.TokenID, "key", "").wantError(t, 404, 5)
	e.do("DELETE", "/v1/users/"+u.ID+"/sessions/not-a-session", "key", "").wantError(t, 400, 3)

	e.do("DELETE", path, "key", `{"reason":"stolen phone"}`).wantOK(t)
	if _, err := e.srv.Sessions.Validate(issued[0].Token); !errors.Is(err, sessions.ErrRevoked) {
		t.Errorf("the ended session's token: %v, want revoked", err)
	}
	if _, err := e.srv.Sessions.Validate(issued[1].Token); err != nil {
		t.Errorf("the other session's token: %v", err)
	}
	if _, err := e.srv.Sessions.Validate(otherIssued[0].Token); err != nil {
		t.Errorf("another user's token: %v", err)
	}
	if !hasEvent(e.events(u.ID), storage.EventSessionRevoked, "admin API: stolen phone") {
		t.Errorf("no session_revoked event from the admin API: %+v", e.events(u.ID))
	}
	e.do("DELETE", path, "key", "").wantError(t, 404, 5) // ended already
	if len(e.events(other.ID)) != 1 {
		t.Errorf("the bystander got events: %+v", e.events(other.ID))
	}

	// All sessions.
	a := e.do("DELETE", "/v1/users/"+u.ID+"/sessions", "key", "").wantOK(t)
	if a.Body["ended"] != float64(1) {
		t.Errorf("ended = %s, want 1", a.Raw)
	}
	if _, err := e.srv.Sessions.Validate(issued[1].Token); !errors.Is(err, sessions.ErrRevoked) {
		t.Errorf("after ending all sessions: %v, want revoked", err)
	}
	if !hasEvent(e.events(u.ID), storage.EventSessionRevoked, "admin API (1 sessions)") {
		t.Errorf("no session_revoked event for all sessions: %+v", e.events(u.ID))
	}
	if a := e.do("DELETE", "/v1/users/"+u.ID+"/sessions", "key", "").wantOK(t); a.Body["ended"] != float64(0) {
		t.Errorf("ending no sessions: %s", a.Raw)
	}
	if !strings.Contains(e.log.String(), "action=\"end all sessions\" user_id="+u.ID) {
		t.Errorf("no action log line:\n%s", e.log)
	}
}

func TestBanUnban(t *testing.T) {
	e := newEnv(t)
	u, issued := e.player("cheater", 2)
	ctx := context.Background()
	// The account is in the node's read cache: the ban must drop it there, as server code's bans do.
	if acc, err := e.srv.Accounts.Account(ctx, u.ID); err != nil || acc.Banned() {
		t.Fatalf("Account = %v, %v", acc, err)
	}

	a := e.do("POST", "/v1/users/"+u.ID+"/ban", "key", `{"reason":"aimbot"}`).wantOK(t)
	if a.Body["ended"] != float64(2) {
		t.Errorf("ban answer %s, want ended 2", a.Raw)
	}
	for _, is := range issued {
		if _, err := e.srv.Sessions.Validate(is.Token); !errors.Is(err, sessions.ErrRevoked) {
			t.Errorf("a banned player's token: %v, want revoked", err)
		}
	}
	if _, err := e.srv.Accounts.AuthenticateDevice(ctx, "cheater-device-0001", "", true); !errors.Is(err, accounts.ErrBanned) {
		t.Errorf("a banned player's login: %v, want ErrBanned", err)
	}
	if acc, err := e.srv.Accounts.Account(ctx, u.ID); err != nil || !acc.Banned() {
		t.Errorf("the cached account after the ban: banned %v, %v", acc != nil && acc.Banned(), err)
	}
	got := e.get("/v1/users/" + u.ID).wantOK(t)
	if got.Body["banned"] != true || got.Body["disable_time"] == nil {
		t.Errorf("lookup after the ban: %s", got.Raw)
	}
	evs := e.events(u.ID)
	if !hasEvent(evs, storage.EventUserBanned, "admin API: aimbot") || !hasEvent(evs, storage.EventSessionRevoked, "ban") {
		t.Errorf("events after the ban: %+v", evs)
	}

	e.do("POST", "/v1/users/"+u.ID+"/unban", "key", "").wantOK(t)
	if acc, err := e.srv.Accounts.Account(ctx, u.ID); err != nil || acc.Banned() {
		t.Errorf("the cached account after the unban: banned %v, %v", acc != nil && acc.Banned(), err)
	}
	if _, err := e.srv.Accounts.AuthenticateDevice(ctx, "cheater-device-0001", "", true); err != nil {
		t.Errorf("login after the unban: %v", err)
	}
	if got := e.get("/v1/users/" + u.ID).wantOK(t); got.Body["banned"] != false {
		t.Errorf("lookup after the unban: %s", got.Raw)
	}
	if !hasEvent(e.events(u.ID), storage.EventUserUnbanned, "admin API") {
		t.Errorf("no user_unbanned event: %+v", e.events(u.ID))
	}
	for _, want := range []string{`action=ban user_id=` + u.ID, `action=unban user_id=` + u.ID} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("no log line with %q:\n%s", want, e.log)
		}
	}
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	u, issued := e.player("leaver", 1)
	e.do("DELETE", "/v1/users/"+u.ID, "key", `{"reason":"erasure request"}`).wantOK(t)
	if _, err := e.srv.Sessions.Validate(issued[0].Token); !errors.Is(err, sessions.ErrRevoked) {
		t.Errorf("a deleted account's token: %v, want revoked", err)
	}
	e.get("/v1/users/"+u.ID).wantError(t, 404, 5)
	e.get("/v1/users?device_id=leaver-device-0001").wantError(t, 404, 5)
	if !hasEvent(e.events(u.ID), storage.EventAccountDeleted, "admin API: erasure request") {
		t.Errorf("no account_deleted event: %+v", e.events(u.ID))
	}
	// Its identities are free again: the device makes a new account.
	res, err := e.srv.Accounts.AuthenticateDevice(context.Background(), "leaver-device-0001", "", true)
	if err != nil || !res.Created || res.User.ID == u.ID {
		t.Errorf("device login after the deletion: %+v, %v", res, err)
	}
	e.do("DELETE", "/v1/users/"+u.ID, "key", "").wantError(t, 404, 5)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	u, _ := e.player("badreq", 1)
	ban := "/v1/users/" + u.ID + "/ban"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     float64
	}{
		{"not JSON", "POST", ban, `reason`, 400, 3},
		{"unknown field", "POST", ban, `{"reasn":"x"}`, 400, 3},
		{"two values", "POST", ban, `{"reason":"x"} {}`, 400, 3},
		{"reason too long", "POST", ban, `{"reason":"` + strings.Repeat("r", 257) + `"}`, 400, 3},
		{"body too large", "POST", ban, `{"reason":"` + strings.Repeat("r", adminapi.DefaultMaxBodyBytes) + `"}`, 400, 3},
		{"wrong method", "PUT", "/v1/users/" + u.ID, "", 501, 12},
		{"wrong method on the lookup", "POST", "/v1/users", "", 501, 12},
		{"unknown route", "GET", "/v1/sessions", "", 404, 5},
		{"client API path", "GET", "/v2/account", "", 404, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(tc.method, tc.path, "key", tc.body)
			a.wantError(t, tc.status, tc.code)
			if tc.status == 501 && a.Header.Get("Allow") == "" {
				t.Errorf("501 without Allow")
			}
		})
	}
	if got := e.get("/v1/users/" + u.ID).wantOK(t); got.Body["banned"] != false {
		t.Errorf("a refused ban banned: %s", got.Raw)
	}
}

// TestPanicAndDeadline: a handler that panics answers 500 with a generic message, and a request whose
// deadline passes answers 504 (code 4), with the server still serving afterwards.
func TestPanicAndDeadline(t *testing.T) {
	e := newEnv(t)
	u, _ := e.player("fragile", 1)
	logs := &servertest.LogBuffer{}
	// Without a session manager, every session route dereferences nil: a panic in the handler.
	broken := httptest.NewServer(adminapi.New(adminapi.Deps{Accounts: e.srv.Accounts, Key: testKey,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}))
	defer broken.Close()
	req, _ := http.NewRequest("POST", broken.URL+"/v1/users/"+u.ID+"/ban", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body map[string]any
	json.Unmarshal(raw, &body)
	if res.StatusCode != 500 || body["code"] != float64(13) || body["message"] != "Internal server error." {
		t.Errorf("panic: %d %s, want 500 code 13 with a generic message", res.StatusCode, raw)
	}
	if !strings.Contains(logs.String(), "panic serving request") {
		t.Errorf("the panic is not logged: %s", logs)
	}

	slow := httptest.NewServer(adminapi.New(adminapi.Deps{Accounts: e.srv.Accounts, Sessions: e.srv.Sessions, Key: testKey, Timeout: 1}))
	defer slow.Close()
	req, _ = http.NewRequest("GET", slow.URL+"/v1/users/"+u.ID, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 504 || !strings.Contains(string(raw), `"code":4`) {
		t.Errorf("past the deadline: %d %s, want 504 code 4", res.StatusCode, raw)
	}
	e.get("/v1/users/" + u.ID).wantOK(t)
}
