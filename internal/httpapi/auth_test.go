package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/server"
)

func TestAuthenticateDevice(t *testing.T) {
	e := newEnv(t, testConfig(t))
	r := e.do("POST", "/v2/account/authenticate/device?username=alice", "basic", `{"id":"device-0001","vars":{"region":"eu"}}`)
	r.wantOK(t)
	if r.Body["created"] != true {
		t.Errorf("created = %v, want true", r.Body["created"])
	}
	c := claims(t, r.Body["token"].(string))
	if c["usn"] != "alice" || c["vrs"].(map[string]any)["region"] != "eu" || c["tid"] == nil || c["iat"] == nil {
		t.Errorf("claims = %v", c)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 60 {
		t.Errorf("token lifetime = %v s, want the default 60", exp-iat)
	}
	rc := claims(t, r.Body["refresh_token"].(string))
	if rc["tid"] != c["tid"] || rc["exp"].(float64)-rc["iat"].(float64) != 3600 {
		t.Errorf("refresh claims = %v", rc)
	}

	// A second login of the same device finds the same account; `created` is omitted, not false, and the
	// username parameter is ignored for an existing account.
	r = e.do("POST", "/v2/account/authenticate/device?username=bob", "basic", `{"id":"device-0001"}`)
	r.wantOK(t)
	if _, present := r.Body["created"]; present {
		t.Errorf("created present on login: %s", r.Raw)
	}
	c2 := claims(t, r.Body["token"].(string))
	if c2["uid"] != c["uid"] || c2["usn"] != "alice" || c2["tid"] == c["tid"] {
		t.Errorf("second login claims = %v, first = %v", c2, c)
	}
	if _, present := c2["vrs"]; present {
		t.Errorf("vars leaked from an earlier session: %v", c2)
	}

	// No username: a generated one of ten letters.
	r = e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-0002"}`)
	r.wantOK(t)
	if usn := claims(t, r.Body["token"].(string))["usn"].(string); len(usn) != 10 {
		t.Errorf("generated username %q", usn)
	}
}

func TestAuthenticateErrors(t *testing.T) {
	e := newEnv(t, testConfig(t))
	e.authDevice("taken-device-1", "?username=taken", "")
	e.do("POST", "/v2/account/authenticate/email?username=emailuser", "basic", `{"email":"user@example.com","password":"password1"}`).wantOK(t)
	tests := []struct {
		name, path, auth, body string
		status                 int
		code                   float64
		msg                    string
	}{
		{"no server key", "/v2/account/authenticate/device", "", `{"id":"device-0003"}`, 401, 16, "Server key required"},
		{"wrong server key", "/v2/account/authenticate/device", "basic:nope", `{"id":"device-0003"}`, 401, 16, "Server key invalid"},
		{"bearer instead of basic", "/v2/account/authenticate/device", "bearer:abc", `{"id":"device-0003"}`, 401, 16, "Server key invalid"},
		{"basic without colon", "/v2/account/authenticate/device", "Basic ZGVmYXVsdGtleQ==", `{"id":"device-0003"}`, 401, 16, "Server key invalid"},
		{"device id missing", "/v2/account/authenticate/device", "basic", `{}`, 400, 3, "Device ID is required."},
		{"empty body", "/v2/account/authenticate/device", "basic", ``, 400, 3, "Device ID is required."},
		{"device id short", "/v2/account/authenticate/device", "basic", `{"id":"short"}`, 400, 3, "Device ID invalid, must be 10-128 bytes."},
		{"device id long", "/v2/account/authenticate/device", "basic", `{"id":"` + strings.Repeat("d", 129) + `"}`, 400, 3, "Device ID invalid, must be 10-128 bytes."},
		{"device id space", "/v2/account/authenticate/device", "basic", `{"id":"device 0003x"}`, 400, 3, "Device ID invalid, no spaces or control characters allowed."},
		{"device id wrong type", "/v2/account/authenticate/device", "basic", `{"id":1234567890}`, 400, 3, ""},
		{"vars wrong type", "/v2/account/authenticate/device", "basic", `{"id":"device-0003","vars":{"a":1}}`, 400, 3, ""},
		{"vars too large", "/v2/account/authenticate/device", "basic", `{"id":"device-0003","vars":{"a":"` + strings.Repeat("x", 5000) + `"}}`, 400, 3, "Session vars too large, must be at most 4096 bytes."},
		{"malformed json", "/v2/account/authenticate/device", "basic", `{"id":"device-0003"`, 400, 3, ""},
		{"array body", "/v2/account/authenticate/device", "basic", `["device-0003"]`, 400, 3, "Request body must be a JSON object."},
		{"create=false unknown", "/v2/account/authenticate/device?create=false", "basic", `{"id":"device-0003"}`, 404, 5, "User account not found."},
		{"create not a bool", "/v2/account/authenticate/device?create=maybe", "basic", `{"id":"device-0003"}`, 400, 3, ""},
		{"username taken", "/v2/account/authenticate/device?username=taken", "basic", `{"id":"device-0003"}`, 409, 6, "Username is already in use."},
		{"username with space", "/v2/account/authenticate/device?username=a%20b", "basic", `{"id":"device-0003"}`, 400, 3, "Username invalid, no spaces or control characters allowed."},
		{"username too long", "/v2/account/authenticate/device?username=" + strings.Repeat("u", 129), "basic", `{"id":"device-0003"}`, 400, 3, "Username invalid, must be 1-128 bytes."},
		{"custom id short", "/v2/account/authenticate/custom", "basic", `{"id":"abc"}`, 400, 3, "Custom ID invalid, must be 6-128 bytes."},
		{"custom id missing", "/v2/account/authenticate/custom", "basic", `{}`, 400, 3, "Custom ID is required."},
		{"email empty body", "/v2/account/authenticate/email", "basic", `{}`, 400, 3, "Password must be at least 8 characters long."},
		{"email bad format", "/v2/account/authenticate/email", "basic", `{"email":"not-an-email","password":"password1"}`, 400, 3, "Invalid email address format."},
		{"email short", "/v2/account/authenticate/email", "basic", `{"email":"a@b.co","password":"password1"}`, 400, 3, "Invalid email address, must be 10-255 bytes."},
		{"email space", "/v2/account/authenticate/email", "basic", `{"email":"a b@example.com","password":"password1"}`, 400, 3, "Invalid email address, no spaces or control characters allowed."},
		{"password short", "/v2/account/authenticate/email", "basic", `{"email":"new@example.com","password":"short"}`, 400, 3, "Password must be at least 8 characters long."},
		{"password over bcrypt limit", "/v2/account/authenticate/email", "basic", `{"email":"new@example.com","password":"` + strings.Repeat("p", 73) + `"}`, 400, 3, "Password must be at most 72 bytes long."},
		{"wrong password", "/v2/account/authenticate/email", "basic", `{"email":"USER@example.com","password":"password2"}`, 401, 16, "Invalid credentials."},
		{"username login unknown", "/v2/account/authenticate/email?username=ghost", "basic", `{"password":"password1"}`, 404, 5, "User account not found."},
		{"username login no password on account", "/v2/account/authenticate/email?username=taken", "basic", `{"password":"password1"}`, 401, 16, "Invalid credentials."},
		{"username login missing username", "/v2/account/authenticate/email", "basic", `{"password":"password1"}`, 400, 3, "Username is required when email address is not supplied."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do("POST", tt.path, tt.auth, tt.body).wantError(t, tt.status, tt.code, tt.msg)
		})
	}
	// None of the failures above created an account.
	for _, id := range []string{"device-0003"} {
		e.do("POST", "/v2/account/authenticate/device?create=false", "basic", `{"id":"`+id+`"}`).wantError(t, 404, 5, "User account not found.")
	}
	e.do("POST", "/v2/account/authenticate/email?create=false", "basic", `{"email":"new@example.com","password":"password1"}`).wantError(t, 404, 5, "User account not found.")
}

func TestAuthenticateEmailAndCustom(t *testing.T) {
	e := newEnv(t, testConfig(t))
	r := e.do("POST", "/v2/account/authenticate/email?username=mail", "basic", `{"email":"Mixed.Case@Example.com","password":"password1"}`)
	r.wantOK(t)
	uid := claims(t, r.Body["token"].(string))["uid"]
	for _, body := range []string{
		`{"email":"mixed.case@example.com","password":"password1"}`,
		`{"email":"MIXED.CASE@EXAMPLE.COM","password":"password1","unknownField":true}`,
	} {
		r = e.do("POST", "/v2/account/authenticate/email", "basic", body)
		r.wantOK(t)
		if got := claims(t, r.Body["token"].(string))["uid"]; got != uid {
			t.Errorf("login %s: uid %v, want %v", body, got, uid)
		}
	}
	// Username and password login; `create` is ignored on that path.
	r = e.do("POST", "/v2/account/authenticate/email?username=mail&create=false", "basic", `{"password":"password1"}`)
	r.wantOK(t)
	if got := claims(t, r.Body["token"].(string))["uid"]; got != uid {
		t.Errorf("username login uid %v, want %v", got, uid)
	}
	acc := e.do("GET", "/v2/account", "bearer:"+r.Body["token"].(string), "")
	acc.wantOK(t)
	if acc.Body["email"] != "mixed.case@example.com" {
		t.Errorf("stored email = %v, want it lowercased", acc.Body["email"])
	}

	r = e.do("POST", "/v2/account/authenticate/custom", "basic", `{"id":"custom-42"}`)
	r.wantOK(t)
	if r.Body["created"] != true {
		t.Errorf("custom create: %s", r.Raw)
	}
	r = e.do("POST", "/v2/account/authenticate/custom?create=false", "basic", `{"id":"custom-42"}`)
	r.wantOK(t)
}

func TestBearerAuth(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-bearer", "", "")
	flipped := s.Token[:len(s.Token)-3] + "AAA"
	if flipped == s.Token {
		flipped = s.Token[:len(s.Token)-3] + "BBB"
	}
	tests := []struct {
		name, auth string
		msg        string
	}{
		{"missing", "", "Auth token required"},
		{"garbage", "bearer:garbage", "Auth token invalid"},
		{"tampered signature", "bearer:" + flipped, "Auth token invalid"},
		{"refresh token as bearer", "bearer:" + s.Refresh, "Auth token invalid"},
		{"basic as bearer", "basic", "Auth token invalid"},
		{"lowercase scheme", "bearer " + s.Token, "Auth token invalid"},
		{"alg none", "bearer:eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(s.Token, ".")[1] + ".", "Auth token invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/v2/account", tt.auth, "")
			r.wantError(t, 401, 16, tt.msg)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header on a 401")
			}
		})
	}
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(t)
	// Expiry is exact: valid one second before exp, invalid at exp.
	e.clock.Advance(59 * time.Second)
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(t)
	e.clock.Advance(time.Second)
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantError(t, 401, 16, "Auth token invalid")
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, testConfig(t))
	e.do("GET", "/v2/account/authenticate/device", "basic", "").wantError(t, 501, 12, "Method Not Allowed")
	e.do("DELETE", "/healthcheck", "", "").wantError(t, 501, 12, "Method Not Allowed")
	e.do("GET", "/v2/nothing/here", "", "").wantError(t, 404, 5, "Not Found")
	r := e.do("GET", "/healthcheck", "", "")
	r.wantOK(t)
	if r.Raw != "{}" {
		t.Errorf("healthcheck body %q", r.Raw)
	}
	r = e.do("OPTIONS", "/v2/account", "", "")
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", r.Status, r.Header)
	}
}

func TestOversizeBody(t *testing.T) {
	cfg := testConfig(t)
	cfg.Socket.MaxRequestSizeBytes = 4096
	e := newEnv(t, cfg)
	body := `{"id":"device-big-1","vars":{"x":"` + strings.Repeat("y", 5000) + `"}}`
	e.do("POST", "/v2/account/authenticate/device", "basic", body).wantError(t, 400, 3, "Request body too large.")
	e.do("POST", "/v2/account/authenticate/device?create=false", "basic", `{"id":"device-big-1"}`).wantError(t, 404, 5, "")
}

func TestAccountGetUpdate(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-acct-1", "?username=player", "")
	e.authDevice("device-acct-2", "?username=other", "")
	r := e.do("GET", "/v2/account", "bearer:"+s.Token, "")
	r.wantOK(t)
	user := r.Body["user"].(map[string]any)
	if user["username"] != "player" || user["lang_tag"] != "en" || r.Body["devices"].([]any)[0].(map[string]any)["id"] != "device-acct-1" {
		t.Errorf("account = %s", r.Raw)
	}
	if _, err := time.Parse(time.RFC3339, user["create_time"].(string)); err != nil || strings.Contains(user["create_time"].(string), ".") {
		t.Errorf("create_time %v not whole-second RFC 3339", user["create_time"])
	}
	for _, absent := range []string{"disable_time", "verify_time", "email", "custom_id"} {
		if _, ok := r.Body[absent]; ok {
			t.Errorf("%s present: %s", absent, r.Raw)
		}
	}

	e.do("PUT", "/v2/account", "bearer:"+s.Token, `{"display_name":"Player One","avatarUrl":"https://x/y.png","lang_tag":"fr","location":"Paris","timezone":"Europe/Paris"}`).wantOK(t)
	user = e.do("GET", "/v2/account", "bearer:"+s.Token, "").Body["user"].(map[string]any)
	if user["display_name"] != "Player One" || user["avatar_url"] != "https://x/y.png" || user["lang_tag"] != "fr" || user["location"] != "Paris" || user["timezone"] != "Europe/Paris" {
		t.Errorf("after update: %v", user)
	}
	// "" clears a field, null and absence leave it.
	e.do("PUT", "/v2/account", "bearer:"+s.Token, `{"display_name":"","location":null}`).wantOK(t)
	user = e.do("GET", "/v2/account", "bearer:"+s.Token, "").Body["user"].(map[string]any)
	if _, ok := user["display_name"]; ok || user["location"] != "Paris" {
		t.Errorf("after clear: %v", user)
	}

	tests := []struct {
		name, body string
		status     int
		code       float64
		msg        string
	}{
		{"nothing", `{}`, 400, 3, "No fields to update."},
		{"empty username", `{"username":""}`, 400, 3, "Username invalid, must be 1-128 bytes."},
		{"taken username", `{"username":"other"}`, 409, 6, "Username is already in use."},
		{"lang_tag too long", `{"lang_tag":"` + strings.Repeat("l", 19) + `"}`, 400, 3, "Value of lang_tag is too long, must be at most 18 bytes."},
		{"wrong type", `{"display_name":5}`, 400, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do("PUT", "/v2/account", "bearer:"+s.Token, tt.body).wantError(t, tt.status, tt.code, tt.msg)
		})
	}

	// A rename shows in the next refresh, not in tokens already issued.
	e.do("PUT", "/v2/account", "bearer:"+s.Token, `{"username":"renamed"}`).wantOK(t)
	if got := claims(t, s.Token)["usn"]; got != "player" {
		t.Errorf("old token usn changed: %v", got)
	}
	s2, r := e.refresh(s, "")
	r.wantOK(t)
	if got := claims(t, s2.Token)["usn"]; got != "renamed" {
		t.Errorf("refreshed usn = %v, want renamed", got)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-refresh", "", `{"a":"1","b":"2"}`)
	first := claims(t, s.Token)

	e.clock.Advance(10 * time.Second)
	s2, r := e.refresh(s, `{"c":"3"}`)
	r.wantOK(t)
	c := claims(t, s2.Token)
	if vrs := c["vrs"].(map[string]any); len(vrs) != 1 || vrs["c"] != "3" {
		t.Errorf("vars not replaced: %v", vrs)
	}
	if c["tid"] != first["tid"] || c["iat"] != first["iat"] || c["exp"].(float64) != first["exp"].(float64)+10 {
		t.Errorf("refreshed claims %v, first %v", c, first)
	}
	if _, present := r.Body["created"]; present {
		t.Errorf("created present on refresh: %s", r.Raw)
	}
	// Empty vars (absent or {}) keep the refresh token's.
	s3, r := e.refresh(s2, `{}`)
	r.wantOK(t)
	if vrs := claims(t, s3.Token)["vrs"].(map[string]any); vrs["c"] != "3" {
		t.Errorf("vars lost: %v", vrs)
	}
	e.do("GET", "/v2/account", "bearer:"+s3.Token, "").wantOK(t)

	// The path Nakama's documentation prints works too.
	r = e.do("POST", "/v2/session/refresh", "basic", `{"refresh_token":"ignored","token":"`+s3.Refresh+`"}`)
	r.wantOK(t)

	e.do("POST", "/v2/account/session/refresh", "basic", `{}`).wantError(t, 400, 3, "Refresh token is required.")
	e.do("POST", "/v2/account/session/refresh", "basic", `{"token":"garbage"}`).wantError(t, 401, 16, "Refresh token invalid or expired.")
	e.do("POST", "/v2/account/session/refresh", "basic", `{"token":"`+s3.Token+`"}`).wantError(t, 401, 16, "Refresh token invalid or expired.")
	e.do("POST", "/v2/account/session/refresh", "", `{"token":"`+s3.Refresh+`"}`).wantError(t, 401, 16, "Server key required")

	// A refresh token expires after refresh_token_expiry_sec.
	e.clock.Advance(3601 * time.Second)
	e.do("POST", "/v2/account/session/refresh", "basic", `{"token":"`+s3.Refresh+`"}`).wantError(t, 401, 16, "Refresh token invalid or expired.")
}

func TestRefreshBannedOrDeleted(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("device-banned", "", "")
	uid := claims(t, s.Token)["uid"].(string)
	if err := e.srv.Store().SetDisableTime(context.Background(), uid, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, r := e.refresh(s, "")
	r.wantError(t, 403, 7, "User account banned.")
	e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-banned"}`).wantError(t, 403, 7, "User account banned.")
	if err := e.srv.Store().SetDisableTime(context.Background(), uid, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, r = e.refresh(s, "")
	r.wantOK(t)
}

func TestLogout(t *testing.T) {
	e := newEnv(t, testConfig(t))
	a1 := e.authDevice("device-logout-a", "", "")
	a2 := e.authDevice("device-logout-a", "", "")
	a3 := e.authDevice("device-logout-a", "", "")
	b := e.authDevice("device-logout-b", "", "")
	ok := func(s session) { t.Helper(); e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(t) }
	dead := func(s session) {
		t.Helper()
		e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantError(t, 401, 16, "Auth token invalid")
		_, r := e.refresh(s, "")
		r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	}

	// Foreign, wrong-kind or garbage tokens in the body are refused and end nothing.
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"token":"`+b.Token+`"}`).wantError(t, 400, 3, "Session token invalid.")
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"refresh_token":"`+b.Refresh+`"}`).wantError(t, 400, 3, "Refresh token invalid.")
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"refresh_token":"`+a1.Token+`"}`).wantError(t, 400, 3, "Refresh token invalid.")
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"token":"junk"}`).wantError(t, 400, 3, "Session token invalid.")
	e.do("POST", "/v2/session/logout", "", `{}`).wantError(t, 401, 16, "Auth token required")
	ok(a1)
	ok(b)

	// Naming a session's token ends the session: its token and its refresh token.
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"token":"`+a2.Token+`"}`).wantOK(t)
	dead(a2)
	ok(a1)
	// Naming only the refresh token ends the session too.
	e.do("POST", "/v2/session/logout", "bearer:"+a1.Token, `{"refresh_token":"`+a3.Refresh+`"}`).wantOK(t)
	dead(a3)
	ok(a1)
	// Logging out a refreshed descendant ends the chain, older tokens included.
	a1b, r := e.refresh(a1, "")
	r.wantOK(t)
	e.do("POST", "/v2/session/logout", "bearer:"+a1b.Token, `{"token":"`+a1b.Token+`","refresh_token":"`+a1b.Refresh+`"}`).wantOK(t)
	dead(a1)
	dead(a1b)
	ok(b)
	// The bearer itself is now logged out, so a repeat is refused.
	e.do("POST", "/v2/session/logout", "bearer:"+a1b.Token, `{}`).wantError(t, 401, 16, "Auth token invalid")

	// An empty body ends every session of the caller and no one else's.
	c1 := e.authDevice("device-logout-a", "", "")
	c2 := e.authDevice("device-logout-a", "", "")
	e.do("POST", "/v2/session/logout", "bearer:"+c1.Token, ``).wantOK(t)
	dead(c1)
	dead(c2)
	ok(b)
	// A fresh login after logout-all works.
	ok(e.authDevice("device-logout-a", "", ""))
}

func TestRestartKeepsSessionsAndRevocations(t *testing.T) {
	cfg := testConfig(t)
	e := newEnv(t, cfg)
	keep := e.authDevice("device-restart-1", "", "")
	gone := e.authDevice("device-restart-2", "", "")
	e.do("POST", "/v2/session/logout", "bearer:"+gone.Token, `{}`).wantOK(t)
	e.http.Close()
	e.srv.Close()

	e2 := newEnv(t, cfg)
	e2.do("GET", "/v2/account", "bearer:"+keep.Token, "").wantOK(t)
	e2.do("GET", "/v2/account", "bearer:"+gone.Token, "").wantError(t, 401, 16, "Auth token invalid")
	if _, r := e2.refresh(gone, ""); r.Status != 401 {
		t.Errorf("revoked refresh after restart: %d %s", r.Status, r.Raw)
	}
	if _, r := e2.refresh(keep, ""); r.Status != 200 {
		t.Errorf("live refresh after restart: %d %s", r.Status, r.Raw)
	}
}

func TestConcurrentAuthAndRefresh(t *testing.T) {
	e := newEnv(t, testConfig(t))
	const n = 8
	var wg sync.WaitGroup
	uids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-race-1"}`)
			if r.Status != 200 {
				errs[i] = fmt.Errorf("status %d: %s", r.Status, r.Raw)
				return
			}
			uids[i] = claims(t, r.Body["token"].(string))["uid"].(string)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent create %d: %v", i, errs[i])
		}
		if uids[i] != uids[0] {
			t.Fatalf("concurrent creates made different accounts: %v", uids)
		}
	}

	s := e.authDevice("device-race-2", "", "")
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, r := e.refresh(s, "")
			codes[i] = r.Status
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("concurrent refresh %d: status %d", i, c)
		}
	}
}

// panicHooks makes one hook panic, to show a panic is a 500 and the server keeps serving.
type panicHooks struct{}

func (panicHooks) Before(ctx context.Context, name string, req any) (any, error) {
	if name == "getaccount" {
		panic("hook exploded")
	}
	if name == "updateaccount" {
		return nil, nil
	}
	return req, nil
}

func (panicHooks) After(context.Context, string, any, any) error { return errors.New("ignored") }

func TestPanicIsInternalError(t *testing.T) {
	e := newEnv(t, testConfig(t), func(o *server.Options) { o.Hooks = panicHooks{} })
	s := e.authDevice("device-panic", "", "")
	r := e.do("GET", "/v2/account", "bearer:"+s.Token, "")
	r.wantError(t, http.StatusInternalServerError, 13, "Internal server error.")
	if strings.Contains(r.Raw, "exploded") {
		t.Errorf("panic value leaked: %s", r.Raw)
	}
	e.do("PUT", "/v2/account", "bearer:"+s.Token, `{"location":"x"}`).wantError(t, 404, 5, "Requested resource was not found.")
	e.do("GET", "/healthcheck", "", "").wantOK(t)
}
