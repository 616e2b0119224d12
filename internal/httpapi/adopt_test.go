package httpapi_test

import (
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// nakamaPair signs a session token and a refresh token as Nakama does for a login of userID: Nakama's
// claims only (a new tid, no sid), no kid header, HS256 with the server's keys; issued an hour ago.
func nakamaPair(t *testing.T, e *env, userID string) session {
	t.Helper()
	skeys, rkeys, err := server.Keyrings(e.cfg.Session)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	c := tokens.Claims{
		TokenID: storagetest.NewID(), UserID: userID, Username: "nakama-name", Vars: map[string]string{"k": "v"},
		ExpiresAt: now.Add(time.Hour).Unix(), IssuedAt: now.Add(-time.Hour).Unix(),
	}
	token := skeys.Sign(&c)
	c.ExpiresAt = now.Add(24 * time.Hour).Unix()
	return session{Token: token, Refresh: rkeys.Sign(&c)}
}

func adoptConfig(t *testing.T, on bool) *env {
	cfg := testConfig(t)
	cfg.Session.AdoptNakamaRefreshTokens = on
	return newEnv(t, cfg)
}

// userID returns the id of the account the session token belongs to.
func (e *env) userID(token string) string {
	e.t.Helper()
	r := e.do("GET", "/v2/account", "bearer:"+token, "")
	r.wantOK(e.t)
	return r.Body["user"].(map[string]any)["id"].(string)
}

// TestAdoptNakamaSession: with session.adopt_nakama_refresh_tokens, a Nakama refresh token is answered
// with Latchkey's own pair of a session with the same id, listed among the account's sessions, which
// refreshes and logs out as usual.
func TestAdoptNakamaSession(t *testing.T) {
	e := adoptConfig(t, true)
	own := e.authDevice("device-adopt-0001", "", "")
	uid := e.userID(own.Token)
	nk := nakamaPair(t, e, uid)
	tid := claims(t, nk.Refresh)["tid"]

	s, r := e.refresh(nk, "")
	r.wantOK(t)
	c := claims(t, s.Token)
	if c["tid"] != tid || c["uid"] != uid || c["sid"] != e.srv.Sessions.StoreID() || c["usn"] == "nakama-name" {
		t.Errorf("adopted session token claims %v, want tid %v, uid %s, this store's sid, the account's username", c, tid, uid)
	}
	if claims(t, s.Refresh)["sid"] != e.srv.Sessions.StoreID() {
		t.Errorf("adopted refresh token has no sid: not Latchkey's own")
	}
	if e.userID(s.Token) != uid {
		t.Errorf("the adopted session token is another account's")
	}
	next, r := e.refresh(s, "")
	r.wantOK(t)
	if claims(t, next.Token)["tid"] != tid {
		t.Errorf("second refresh: tid %v, want %v", claims(t, next.Token)["tid"], tid)
	}

	r = e.do("GET", "/v2/account/sessions", "bearer:"+own.Token, "")
	r.wantOK(t)
	found := false
	for _, x := range r.Body["sessions"].([]any) {
		found = found || x.(map[string]any)["id"] == tid
	}
	if !found {
		t.Errorf("sessions %v do not list the adopted session %v", r.Raw, tid)
	}

	// Logged out, both the Nakama refresh token and Latchkey's are refused.
	e.do("POST", "/v2/session/logout", "bearer:"+next.Token, `{"refresh_token":"`+next.Refresh+`"}`).wantOK(t)
	for name, x := range map[string]session{"nakama": nk, "latchkey": next} {
		if _, r := e.refresh(x, ""); r.Status == 200 {
			t.Errorf("after logout, the %s refresh token still refreshes", name)
		} else {
			r.wantError(t, 401, 16, "Refresh token invalid or expired.")
		}
	}
}

// TestAdoptionRefusedOverHTTP: without the switch, for an unknown account and for a banned one, a Nakama
// refresh token is refused with the answers a Latchkey token gets.
func TestAdoptionRefusedOverHTTP(t *testing.T) {
	t.Run("switch off", func(t *testing.T) {
		e := adoptConfig(t, false)
		nk := nakamaPair(t, e, e.userID(e.authDevice("device-adopt-0002", "", "").Token))
		_, r := e.refresh(nk, "")
		r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	})
	t.Run("unknown account", func(t *testing.T) {
		e := adoptConfig(t, true)
		_, r := e.refresh(nakamaPair(t, e, storagetest.NewID()), "")
		r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	})
	t.Run("banned", func(t *testing.T) {
		e := adoptConfig(t, true)
		uid := e.userID(e.authDevice("device-adopt-0003", "", "").Token)
		if _, err := e.srv.Sessions.Ban(t.Context(), uid, "test"); err != nil {
			t.Fatal(err)
		}
		_, r := e.refresh(nakamaPair(t, e, uid), "")
		r.wantError(t, 403, 7, "User account banned.")
	})
}
