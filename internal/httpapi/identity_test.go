package httpapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

// socialConfig points the config's social.* keys at the stand-ins, as an operator would for a proxy.
func socialConfig(t testing.TB, p *socialtest.Providers) config.Config {
	cfg := testConfig(t)
	sc := p.Config()
	s := &cfg.Social
	s.Apple.BundleID, s.Apple.KeysURL = sc.Apple.BundleID, sc.Apple.KeysURL
	s.Google.ClientIDs, s.Google.KeysURL = sc.Google.ClientIDs, sc.Google.KeysURL
	s.Facebook.GraphURL = sc.Facebook.GraphURL
	s.FacebookLimitedLogin.AppID, s.FacebookLimitedLogin.KeysURL = sc.FacebookLimitedLogin.AppID, sc.FacebookLimitedLogin.KeysURL
	s.FacebookInstantGame.AppSecret = sc.FacebookInstantGame.AppSecret
	s.Steam.PublisherKey, s.Steam.AppID, s.Steam.APIURL = sc.Steam.PublisherKey, sc.Steam.AppID, sc.Steam.APIURL
	s.GameCenter.KeyHostSuffixes = sc.GameCenter.KeyHostSuffixes
	s.CAFile = sc.CAFile
	s.TimeoutMs = 500
	return cfg
}

// platform is one platform route's kind, its provider in the stand-ins and how to make a body for it.
type platform struct {
	kind     string
	name     string // in Nakama's messages
	provider socialtest.Provider
	body     func(p *socialtest.Providers, id string) string
}

func platforms() []platform {
	exp := func() time.Time { return time.Now().Add(time.Hour) }
	tok := func(s string) string { b, _ := json.Marshal(map[string]string{"token": s}); return string(b) }
	return []platform{
		{"apple", "Apple", socialtest.Apple, func(p *socialtest.Providers, id string) string {
			return tok(p.AppleToken(id, socialtest.BundleID, exp()))
		}},
		{"google", "Google", socialtest.Google, func(p *socialtest.Providers, id string) string {
			return tok(p.GoogleToken(id, socialtest.GoogleClientID, exp()))
		}},
		{"facebook", "Facebook", socialtest.Facebook, func(p *socialtest.Providers, id string) string {
			return tok(p.FacebookAccessToken(id, "Player "+id))
		}},
		{"steam", "Steam", socialtest.Steam, func(p *socialtest.Providers, id string) string {
			return tok(p.SteamTicket(id))
		}},
		{"facebookinstantgame", "Facebook Instant Game", "", func(p *socialtest.Providers, id string) string {
			b, _ := json.Marshal(map[string]string{"signed_player_info": p.InstantGame(p.InstantGameSecret, id)})
			return string(b)
		}},
		{"gamecenter", "GameCenter", socialtest.GameCenter, func(p *socialtest.Providers, id string) string {
			c := p.GameCenter(id, socialtest.BundleID, time.Now())
			b, _ := json.Marshal(map[string]any{
				"player_id": c.PlayerID, "bundle_id": c.BundleID, "timestamp_seconds": c.TimestampSeconds,
				"salt": c.Salt, "signature": c.Signature, "public_key_url": c.PublicKeyURL,
			})
			return string(b)
		}},
	}
}

func TestPlatformAuthenticate(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, socialConfig(t, p))
	for i, pl := range platforms() {
		t.Run(pl.kind, func(t *testing.T) {
			e := e.with(t)
			path := "/v2/account/authenticate/" + pl.kind
			id := platformID(1, i)
			first := e.do("POST", path+"?username=u_"+pl.kind, "basic", pl.body(p, id))
			first.wantOK(t)
			if first.Body["created"] != true {
				t.Errorf("first sign-in: created = %v, want true", first.Body["created"])
			}
			again := e.do("POST", path, "basic", pl.body(p, id))
			again.wantOK(t)
			if again.Body["created"] != nil {
				t.Errorf("second sign-in: created = %v, want absent", again.Body["created"])
			}
			uid := claims(t, first.Body["token"].(string))["uid"]
			if got := claims(t, again.Body["token"].(string))["uid"]; got != uid {
				t.Errorf("second sign-in is user %v, want %v", got, uid)
			}
			acct := e.do("GET", "/v2/account", "bearer:"+again.Body["token"].(string), "")
			acct.wantOK(t)
			if got := acct.Body["user"].(map[string]any)[idField(pl.kind)]; got != id {
				t.Errorf("account %s = %v, want %q", idField(pl.kind), got, id)
			}
			e.do("POST", path+"?create=false", "basic", pl.body(p, platformID(2, i))).
				wantError(t, 404, 5, "User account not found.")
			e.do("POST", path, "basic", `{}`).wantError(t, 400, 3, "")
		})
	}
}

// platformID is a distinct platform user id of the numeric shape every platform uses (a 64-bit SteamID,
// say), for test n and platform i.
func platformID(n, i int) string { return strconv.Itoa(76561198000000000 + 100*n + i) }

// idField is the account's JSON field holding a platform's id.
func idField(kind string) string {
	return map[string]string{
		"apple": "apple_id", "google": "google_id", "facebook": "facebook_id", "steam": "steam_id",
		"facebookinstantgame": "facebook_instant_game_id", "gamecenter": "gamecenter_id",
	}[kind]
}

func TestPlatformRefusals(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, socialConfig(t, p))
	exp := time.Now().Add(time.Hour)
	forged := func(tok string) string { // the signature of another key
		parts := strings.Split(tok, ".")
		other := strings.Split(p.GoogleToken("x", socialtest.GoogleClientID, exp), ".")
		return `{"token":"` + parts[0] + "." + parts[1] + "." + other[2] + `"}`
	}
	tests := []struct {
		name, kind, body string
		status           int
		code             float64
		msg              string
	}{
		{"forged apple", "apple", forged(p.AppleToken("a", socialtest.BundleID, exp)), 401, 16, "Could not authenticate Apple profile."},
		{"expired apple", "apple", `{"token":"` + p.AppleToken("a", socialtest.BundleID, time.Now().Add(-time.Hour)) + `"}`, 401, 16, "Could not authenticate Apple profile."},
		{"wrong audience google", "google", `{"token":"` + p.GoogleToken("g", "someone-else", exp) + `"}`, 401, 16, "Could not authenticate Google profile."},
		{"unknown steam ticket", "steam", `{"token":"deadbeef"}`, 401, 16, "Could not authenticate Steam profile."},
		{"unknown facebook token", "facebook", `{"token":"not-a-token"}`, 401, 16, "Could not authenticate Facebook profile."},
		{"instant game signed with another secret", "facebookinstantgame", `{"signed_player_info":"` + p.InstantGame("wrong-secret", "p") + `"}`, 401, 16, "Could not authenticate Facebook Instant Game profile."},
		{"missing apple token", "apple", `{}`, 400, 3, "Apple ID token is required."},
		{"missing gamecenter fields", "gamecenter", `{"player_id":"p"}`, 400, 3, "GameCenter bundle ID is required."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).do("POST", "/v2/account/authenticate/"+tt.kind, "basic", tt.body)
			r.wantError(t, tt.status, tt.code, tt.msg)
			for _, secret := range []string{p.SteamPublisherKey, p.InstantGameSecret} {
				if strings.Contains(r.Raw, secret) {
					t.Errorf("answer leaks a secret: %s", r.Raw)
				}
			}
		})
	}
	t.Run("provider down", func(t *testing.T) {
		p.Set(socialtest.Steam, socialtest.Down)
		defer p.Set(socialtest.Steam, socialtest.Normal)
		r := e.with(t).do("POST", "/v2/account/authenticate/steam", "basic", `{"token":"`+p.SteamTicket("s1")+`"}`)
		r.wantError(t, 503, 14, "Steam could not be reached, try again.")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After on a retryable answer")
		}
	})
	t.Run("provider slow", func(t *testing.T) {
		p.Set(socialtest.Facebook, socialtest.Slow)
		defer p.Set(socialtest.Facebook, socialtest.Normal)
		start := time.Now()
		e.with(t).do("POST", "/v2/account/authenticate/facebook", "basic", `{"token":"`+p.FacebookAccessToken("f1", "F")+`"}`).
			wantError(t, 503, 14, "Facebook could not be reached, try again.")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("a slow provider held the request %v (timeout 500 ms)", d)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		cfg := socialConfig(t, p)
		cfg.Social.Apple.BundleID = ""
		e := newEnv(t, cfg)
		e.do("POST", "/v2/account/authenticate/apple", "basic", `{"token":"`+p.AppleToken("a", socialtest.BundleID, exp)+`"}`).
			wantError(t, 400, 9, "Apple sign-in is not configured on this server.")
	})
}

func TestLinkUnlink(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, socialConfig(t, p))
	me := e.authDevice("link-device-0001", "", "")
	other := e.authDevice("link-device-0002", "", "")
	bearer := "bearer:" + me.Token
	for i, pl := range platforms() {
		t.Run(pl.kind, func(t *testing.T) {
			e := e.with(t)
			id := platformID(3, i)
			e.do("POST", "/v2/account/link/"+pl.kind, bearer, linkBody(pl, p, id)).wantOK(t)
			e.do("POST", "/v2/account/link/"+pl.kind, bearer, linkBody(pl, p, id)).wantOK(t) // again: no change
			// Signing in with the platform now reaches the device account.
			r := e.do("POST", "/v2/account/authenticate/"+pl.kind, "basic", pl.body(p, id))
			r.wantOK(t)
			if claims(t, r.Body["token"].(string))["uid"] != claims(t, me.Token)["uid"] {
				t.Errorf("sign-in after link reached another account")
			}
			e.do("POST", "/v2/account/link/"+pl.kind, "bearer:"+other.Token, linkBody(pl, p, id)).
				wantError(t, 409, 6, pl.name+" ID is already in use.")
			e.do("POST", "/v2/account/unlink/"+pl.kind, bearer, pl.body(p, id)).wantOK(t)
			e.do("POST", "/v2/account/authenticate/"+pl.kind+"?create=false", "basic", pl.body(p, id)).
				wantError(t, 404, 5, "User account not found.")
		})
	}
	t.Run("device email custom", func(t *testing.T) {
		e := e.with(t)
		e.do("POST", "/v2/account/link/device", bearer, `{"id":"link-device-0003"}`).wantOK(t)
		e.do("POST", "/v2/account/link/device", "bearer:"+other.Token, `{"id":"link-device-0003"}`).
			wantError(t, 409, 6, "Device ID already in use.")
		e.do("POST", "/v2/account/link/email", bearer, `{"email":"linked@example.com","password":"password1"}`).wantOK(t)
		e.do("POST", "/v2/account/authenticate/email?create=false", "basic", `{"email":"LINKED@example.com","password":"password1"}`).wantOK(t)
		e.do("POST", "/v2/account/link/custom", bearer, `{"id":"custom-linked-1"}`).wantOK(t)
		e.do("POST", "/v2/account/link/custom", "bearer:"+other.Token, `{"id":"custom-linked-1"}`).
			wantError(t, 409, 6, "Custom ID is already in use.")
		e.do("POST", "/v2/account/link/device", bearer, `{"id":"short"}`).wantError(t, 400, 3, "")
		for _, u := range []struct{ path, body string }{
			{"email", `{"email":"linked@example.com"}`},
			{"custom", `{"id":"custom-linked-1"}`},
			{"device", `{"id":"link-device-0003"}`},
		} {
			e.do("POST", "/v2/account/unlink/"+u.path, bearer, u.body).wantOK(t)
		}
		e.do("POST", "/v2/account/authenticate/email?create=false", "basic", `{"email":"linked@example.com","password":"password1"}`).
			wantError(t, 404, 5, "")
	})
	t.Run("last identity", func(t *testing.T) {
		e := e.with(t)
		const lastMsg = "Cannot unlink last account identifier. Check profile exists and is not last link."
		e.do("POST", "/v2/account/unlink/device", bearer, `{"id":"link-device-0001"}`).wantError(t, 403, 7, lastMsg)
		e.do("POST", "/v2/account/unlink/device", bearer, `{"id":"not-my-device-01"}`).wantError(t, 403, 7, lastMsg)
		e.alive(me)
	})
}

// linkBody is the link request of a platform: Nakama wraps Steam's in {"account", "sync"}.
func linkBody(pl platform, p *socialtest.Providers, id string) string {
	if pl.kind == "steam" {
		return `{"account":` + pl.body(p, id) + `,"sync":true}`
	}
	return pl.body(p, id)
}

func TestDeleteAccount(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s1 := e.authDevice("delete-device-01", "?username=leaver", "")
	s2 := e.authDevice("delete-device-01", "", "")
	uid := claims(t, s1.Token)["uid"]
	e.do("DELETE", "/v2/account", "bearer:"+s1.Token, "").wantOK(t)
	for _, s := range []session{s1, s2} {
		e.do("GET", "/v2/account", "bearer:"+s.Token, "").wantError(t, 401, 16, "Auth token invalid")
		_, r := e.refresh(s, "")
		r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	}
	kinds := e.eventKinds(uid.(string))
	if len(kinds) == 0 || kinds[len(kinds)-1] != "account_deleted" {
		t.Errorf("events %v, want account_deleted last", kinds)
	}
	fresh := e.do("POST", "/v2/account/authenticate/device?username=leaver", "basic", `{"id":"delete-device-01"}`)
	fresh.wantOK(t)
	if fresh.Body["created"] != true || claims(t, fresh.Body["token"].(string))["uid"] == uid {
		t.Errorf("the device did not create a fresh account: %s", fresh.Raw)
	}
}

func TestGetUsers(t *testing.T) {
	e := newEnv(t, testConfig(t))
	a := e.authDevice("users-device-01", "?username=alice", "")
	b := e.authDevice("users-device-02", "?username=bob", "")
	aid, bid := claims(t, a.Token)["uid"].(string), claims(t, b.Token)["uid"].(string)
	r := e.do("GET", "/v2/user?ids="+aid+"&ids=not-a-uuid&usernames=bob&usernames=nobody&ids="+bid, "bearer:"+a.Token, "")
	r.wantOK(t)
	users := r.Body["users"].([]any)
	got := map[string]string{}
	for _, u := range users {
		m := u.(map[string]any)
		got[m["id"].(string)] = m["username"].(string)
		if _, leaked := m["email"]; leaked {
			t.Errorf("public profile has an email")
		}
	}
	if len(users) != 2 || got[aid] != "alice" || got[bid] != "bob" {
		t.Errorf("users = %v", got)
	}
	many := "/v2/user?" + strings.Repeat("usernames=x&", 101)
	e.do("GET", many, "bearer:"+a.Token, "").wantError(t, 400, 3, "")
}

func TestUnservedAPIs(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("unserved-device-1", "", "")
	for _, path := range []string{"/v2/storage", "/v2/storage/collection", "/v2/friend", "/v2/group/x/join", "/v2/leaderboard/l",
		"/v2/tournament", "/v2/notification", "/v2/iap/purchase/apple", "/v2/match", "/v2/channel/c", "/v2/user/x/group"} {
		r := e.do("GET", path, "bearer:"+s.Token, "")
		r.wantError(t, 501, 12, "")
		if msg, _ := r.Body["message"].(string); !strings.Contains(msg, "Latchkey serves authentication and sessions only") {
			t.Errorf("%s: message %q does not say what Latchkey serves", path, msg)
		}
	}
	e.do("GET", "/v2/nonsense", "", "").wantError(t, 404, 5, "")
}

// TestDeleteAccountLeavesNoWindow: between ending an account's sessions and deleting it, a login must not
// start a session (it would be deleted without a revocation, its token valid until it expired).
func TestDeleteAccountLeavesNoWindow(t *testing.T) {
	e := newEnv(t, testConfig(t))
	s := e.authDevice("window-device-01", "", "")
	uid := claims(t, s.Token)["uid"].(string)
	if err := e.srv.Sessions.EndAccount(context.Background(), uid, "test"); err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"window-device-01"}`).
		wantError(t, 403, 7, "User account banned.")
	if err := e.srv.Store().DeleteUser(context.Background(), uid); err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"window-device-01"}`).wantOK(t)
}
