package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// eventKinds lists the kinds of the user's security events, oldest first.
func (e *env) eventKinds(userID string) []storage.EventKind {
	e.t.Helper()
	evs, err := e.srv.Sessions.Events(context.Background(), userID, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	kinds := make([]storage.EventKind, len(evs))
	for i, ev := range evs {
		kinds[len(evs)-1-i] = ev.Kind
	}
	return kinds
}

// dead asserts that no token of s works any more: the session token is refused on a request and the
// refresh token on a refresh.
func (e *env) dead(s session) {
	e.t.Helper()
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantError(e.t, 401, 16, "Auth token invalid")
	_, r := e.refresh(s, "")
	r.wantError(e.t, 401, 16, "Refresh token invalid or expired.")
}

func (e *env) alive(s session) {
	e.t.Helper()
	e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantOK(e.t)
}

// rotationConfig turns on refresh-token rotation, which is off by default (Nakama's behaviour).
func rotationConfig(t testing.TB) config.Config {
	cfg := testConfig(t)
	cfg.Session.RefreshRotation = true
	return cfg
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, rotationConfig(t))
	s := e.authDevice("device-rotation", "", "")
	uid := claims(t, s.Token)["uid"].(string)

	e.clock.Advance(5 * time.Second)
	next, r := e.refresh(s, "")
	r.wantOK(t)
	if next.Refresh == s.Refresh {
		t.Fatal("rotation: the refresh token was not replaced")
	}
	// A retry of the same refresh within the grace window gets the same successor pair, not a new one.
	e.clock.Advance(9 * time.Second)
	again, r := e.refresh(s, "")
	r.wantOK(t)
	if again != next {
		t.Errorf("retry within the grace window got a different pair:\n%+v\n%+v", again, next)
	}
	e.alive(next)

	// The successor goes on as usual, and its own predecessor (s) is now two steps behind: a replay.
	third, r := e.refresh(next, "")
	r.wantOK(t)
	_, r = e.refresh(s, "")
	r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	// The replay ended the whole session: every token that descends from the login is dead.
	e.dead(third)
	e.dead(next)
	if kinds := e.eventKinds(uid); !slices.Contains(kinds, storage.EventRefreshReuse) {
		t.Errorf("events %v, want a %s", kinds, storage.EventRefreshReuse)
	}
}

func TestRefreshReuseAfterGrace(t *testing.T) {
	e := newEnv(t, rotationConfig(t))
	s := e.authDevice("device-reuse-late", "", "")
	next, r := e.refresh(s, "")
	r.wantOK(t)
	e.clock.Advance(11 * time.Second) // past session.refresh_reuse_grace_sec (10)
	_, r = e.refresh(s, "")
	r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	e.dead(next)
}

func TestRefreshRotationOff(t *testing.T) {
	e := newEnv(t, testConfig(t)) // off is the default
	s := e.authDevice("device-no-rotation", "", "")
	// As in Nakama: the same refresh token keeps working, and each refresh gives a usable pair.
	for range 3 {
		e.clock.Advance(20 * time.Second)
		next, r := e.refresh(s, "")
		r.wantOK(t)
		e.alive(next)
	}
}

// TestRestoredLoginRefreshTokenByDefault is the game that saved its refresh token at login while its client
// refreshed silently (nakama-js, Godot), and restores the saved token on the next start: with the default
// configuration the session goes on, as in Nakama.
func TestRestoredLoginRefreshTokenByDefault(t *testing.T) {
	e := newEnv(t, testConfig(t))
	saved := e.authDevice("device-restore-saved", "", "")
	cur := saved
	for range 3 { // the client's silent refreshes during play
		e.clock.Advance(50 * time.Second)
		next, r := e.refresh(cur, "")
		r.wantOK(t)
		cur = next
	}
	e.clock.Advance(10 * time.Minute) // the game restarts much later
	restored, r := e.refresh(saved, "")
	r.wantOK(t)
	e.alive(restored)
	if claims(t, restored.Token)["tid"] != claims(t, cur.Token)["tid"] {
		t.Errorf("the restored token started a new session; want the same login")
	}
}

// TestConcurrentRefreshesOfOneToken: a client that fires the same refresh twice (or a retry racing the
// original) must not be punished: every request succeeds with the one successor pair.
func TestConcurrentRefreshesOfOneToken(t *testing.T) {
	e := newEnv(t, rotationConfig(t))
	s := e.authDevice("device-refresh-race", "", "")
	const n = 8
	got := make([]session, n)
	status := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, r := e.refresh(s, "")
			got[i], status[i] = ss, r.Status
		}()
	}
	wg.Wait()
	for i := range n {
		if status[i] != http.StatusOK || got[i] != got[0] {
			t.Errorf("refresh %d: status %d, pair equal to the first: %v", i, status[i], got[i] == got[0])
		}
	}
	e.alive(got[0])
}

// TestRefreshRacesLogout: whatever the interleaving, once both finish no token of the session works.
func TestRefreshRacesLogout(t *testing.T) {
	e := newEnv(t, testConfig(t))
	for round := range 10 {
		s := e.authDevice("device-refresh-logout", "", "")
		var next session
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			next, _ = e.refresh(s, "")
		}()
		go func() {
			defer wg.Done()
			e.do("POST", "/v2/session/logout", "bearer:"+s.Token, `{"token":"`+s.Token+`"}`)
		}()
		wg.Wait()
		e.dead(s)
		if next.Token != "" {
			e.dead(next)
		}
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func TestSessionsListAndDelete(t *testing.T) {
	e := newEnv(t, testConfig(t))
	// Two logins from one device are two sessions.
	a := e.authDevice("device-sessions-1", "", "")
	e.clock.Advance(time.Second)
	b := e.authDevice("device-sessions-1", "", "")
	other := e.authDevice("device-sessions-2", "", "")

	r := e.do("GET", "/v2/account/sessions", "bearer:"+b.Token, "")
	r.wantOK(t)
	list := r.Body["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions = %s, want 2", r.Raw)
	}
	newest, oldest := list[0].(map[string]any), list[1].(map[string]any)
	if newest["id"] != claims(t, b.Token)["tid"] || newest["current"] != true || oldest["current"] != false {
		t.Errorf("order or current flag wrong: %s", r.Raw)
	}
	for _, f := range []string{"create_time", "refresh_time", "expire_time"} {
		if _, err := time.Parse(time.RFC3339, newest[f].(string)); err != nil {
			t.Errorf("%s = %v: %v", f, newest[f], err)
		}
	}
	if newest["client_ip"] != "127.0.0.1" || newest["user_agent"] == "" {
		t.Errorf("client details: %s", r.Raw)
	}

	// Another user's session id, an unknown id and a malformed one are all "not found".
	e.do("DELETE", "/v2/account/sessions/"+claims(t, other.Token)["tid"].(string), "bearer:"+b.Token, "").wantError(t, 404, 5, "Session not found.")
	e.do("DELETE", "/v2/account/sessions/6b9f9d30-0c3e-4c7a-9d4e-2f1a3b5c7d9e", "bearer:"+b.Token, "").wantError(t, 404, 5, "Session not found.")
	e.do("DELETE", "/v2/account/sessions/not-a-uuid", "bearer:"+b.Token, "").wantError(t, 404, 5, "Session not found.")
	e.alive(other)

	// Ending one session ends both its tokens at once and leaves the others.
	r = e.do("DELETE", "/v2/account/sessions/"+claims(t, a.Token)["tid"].(string), "bearer:"+b.Token, "")
	r.wantOK(t)
	if r.Raw != "{}" {
		t.Errorf("delete answered %s, want {}", r.Raw)
	}
	e.dead(a)
	e.alive(b)
	r = e.do("GET", "/v2/account/sessions", "bearer:"+b.Token, "")
	if n := len(r.Body["sessions"].([]any)); n != 1 {
		t.Errorf("after delete: %s", r.Raw)
	}
	// Deleting it again: it is no longer live.
	e.do("DELETE", "/v2/account/sessions/"+claims(t, a.Token)["tid"].(string), "bearer:"+b.Token, "").wantError(t, 404, 5, "Session not found.")
	e.do("PUT", "/v2/account/sessions", "bearer:"+b.Token, "").wantError(t, 501, 12, "Method Not Allowed")
}

func TestLogoutScopes(t *testing.T) {
	e := newEnv(t, testConfig(t))
	login := func() session { return e.authDevice("device-scopes", "", "") }
	s1, s2, s3 := login(), login(), login()

	e.do("POST", "/v2/session/logout", "bearer:"+s1.Token, `{"scope":"others"}`).wantOK(t)
	e.alive(s1)
	e.dead(s2)
	e.dead(s3)

	s4 := login()
	e.do("POST", "/v2/session/logout", "bearer:"+s1.Token, `{"scope":"current"}`).wantOK(t)
	e.dead(s1)
	e.alive(s4)

	s5 := login()
	e.do("POST", "/v2/session/logout", "bearer:"+s4.Token, `{"scope":"all"}`).wantOK(t)
	e.dead(s4)
	e.dead(s5)

	s6 := login()
	e.do("POST", "/v2/session/logout", "bearer:"+s6.Token, `{"scope":"everything"}`).wantError(t, 400, 3, "Invalid logout scope, must be current, others or all.")
	e.alive(s6)
}

func TestBan(t *testing.T) {
	e := newEnv(t, testConfig(t))
	a := e.authDevice("device-ban-me", "", "")
	b := e.authDevice("device-ban-me", "", "")
	uid := claims(t, a.Token)["uid"].(string)

	n, err := e.srv.Sessions.Ban(context.Background(), uid, "cheating")
	if err != nil || n != 2 {
		t.Fatalf("Ban = %d, %v; want 2 sessions ended", n, err)
	}
	e.do("GET", "/v2/account", "bearer:"+a.Token, "").wantError(t, 401, 16, "Auth token invalid")
	e.do("GET", "/v2/account", "bearer:"+b.Token, "").wantError(t, 401, 16, "Auth token invalid")
	e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"device-ban-me"}`).wantError(t, 403, 7, "User account banned.")
	_, r := e.refresh(a, "")
	r.wantError(t, 403, 7, "User account banned.")

	if err := e.srv.Sessions.Unban(context.Background(), uid, ""); err != nil {
		t.Fatal(err)
	}
	c := e.authDevice("device-ban-me", "", "")
	e.alive(c)
	e.dead(a) // ended sessions stay ended
	kinds := e.eventKinds(uid)
	for _, want := range []storage.EventKind{storage.EventUserBanned, storage.EventSessionRevoked, storage.EventUserUnbanned} {
		if !slices.Contains(kinds, want) {
			t.Errorf("events %v lack %s", kinds, want)
		}
	}
}

func TestSessionCap(t *testing.T) {
	cfg := testConfig(t)
	cfg.Session.MaxSessionsPerUser = 3
	e := newEnv(t, cfg)
	var logins []session
	for range 4 {
		logins = append(logins, e.authDevice("device-session-cap", "", ""))
		e.clock.Advance(time.Second)
	}
	oldest := logins[0]
	e.dead(oldest)
	for _, s := range logins[1:] {
		e.alive(s)
	}
	r := e.do("GET", "/v2/account/sessions", "bearer:"+logins[3].Token, "")
	r.wantOK(t)
	var got []any
	for _, s := range r.Body["sessions"].([]any) {
		got = append(got, s.(map[string]any)["id"])
	}
	want := []any{claims(t, logins[3].Token)["tid"], claims(t, logins[2].Token)["tid"], claims(t, logins[1].Token)["tid"]}
	if !slices.Equal(got, want) {
		t.Errorf("live sessions %v, want the newest three %v", got, want)
	}

	uid := claims(t, oldest.Token)["uid"].(string)
	evs, err := e.srv.Sessions.Events(context.Background(), uid, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var capped []string
	for _, ev := range evs {
		if ev.Kind == storage.EventSessionRevoked && ev.Reason == "session cap" {
			capped = append(capped, ev.SessionID)
		}
	}
	if tid := claims(t, oldest.Token)["tid"].(string); !slices.Equal(capped, []string{tid}) {
		t.Errorf("session cap events for %v, want one for %s", capped, tid)
	}
}

func TestSessionsListPages(t *testing.T) {
	e := newEnv(t, testConfig(t))
	var want []any
	var last session
	for range 5 {
		last = e.authDevice("device-session-pages", "", "")
		want = append([]any{claims(t, last.Token)["tid"]}, want...) // newest first
		e.clock.Advance(time.Second)
	}

	var got []any
	cursor := ""
	for page := 0; ; page++ {
		if page > len(want) {
			t.Fatal("more pages than sessions")
		}
		path := "/v2/account/sessions?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do("GET", path, "bearer:"+last.Token, "")
		r.wantOK(t)
		list := r.Body["sessions"].([]any)
		if len(list) > 2 {
			t.Fatalf("page of %d sessions with limit 2: %s", len(list), r.Raw)
		}
		for _, s := range list {
			got = append(got, s.(map[string]any)["id"])
		}
		next, _ := r.Body["cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("walked %v, want %v", got, want)
	}

	// Without a limit, one page holds them all and has no cursor.
	r := e.do("GET", "/v2/account/sessions", "bearer:"+last.Token, "")
	r.wantOK(t)
	if _, ok := r.Body["cursor"]; ok || len(r.Body["sessions"].([]any)) != len(want) {
		t.Errorf("unlimited list: %s", r.Raw)
	}

	for _, q := range []string{"cursor=bm90LWEtY3Vyc29y", "cursor=%21%21", "cursor=MTox"} {
		e.do("GET", "/v2/account/sessions?"+q, "bearer:"+last.Token, "").wantError(t, 400, 3, "Invalid cursor.")
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x"} {
		e.do("GET", "/v2/account/sessions?"+q, "bearer:"+last.Token, "").wantError(t, 400, 3, "Invalid limit - limit must be between 1 and 100.")
	}
}
