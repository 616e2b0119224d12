package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

// TestFlagsLoad checks that the printed flags are latchkey flags that set the stand-ins' configuration.
func TestFlagsLoad(t *testing.T) {
	p := socialtest.Start(t)
	want := p.Config()
	want.Timeout = 1500 * time.Millisecond
	cfg, rest, err := config.Load(latchkeyFlags(want), nil)
	if err != nil || len(rest) != 0 {
		t.Fatalf("Load: %v (rest %q)", err, rest)
	}
	s := cfg.Social
	got := []any{s.Apple.BundleID, s.Apple.KeysURL, []string(s.Google.ClientIDs), s.Google.KeysURL, s.Facebook.GraphURL,
		s.FacebookLimitedLogin.AppID, s.FacebookLimitedLogin.KeysURL, s.FacebookInstantGame.AppSecret,
		s.Steam.PublisherKey, s.Steam.AppID, s.Steam.APIURL, []string(s.GameCenter.KeyHostSuffixes), s.CAFile, s.TimeoutMs}
	wantList := []any{want.Apple.BundleID, want.Apple.KeysURL, want.Google.ClientIDs, want.Google.KeysURL, want.Facebook.GraphURL,
		want.FacebookLimitedLogin.AppID, want.FacebookLimitedLogin.KeysURL, want.FacebookInstantGame.AppSecret,
		want.Steam.PublisherKey, want.Steam.AppID, want.Steam.APIURL, want.GameCenter.KeyHostSuffixes, want.CAFile, 1500}
	if !reflect.DeepEqual(got, wantList) {
		t.Errorf("loaded %v, want %v", got, wantList)
	}
}

// TestMint mints each kind of credential through the control API and verifies it with package social.
func TestMint(t *testing.T) {
	p := socialtest.Start(t)
	api := httptest.NewServer(controlAPI(p))
	t.Cleanup(api.Close)
	v, err := social.New(p.Config(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	post := func(t *testing.T, path, body string, out any) int {
		t.Helper()
		resp, err := http.Post(api.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}
	tests := []struct {
		kind, body string
		verify     func(string) (social.Identity, error)
		wantID     string
	}{
		{"apple", `{"sub":"a1"}`, func(tok string) (social.Identity, error) { return v.Apple(ctx, tok) }, "a1"},
		{"google", `{"sub":"g1"}`, func(tok string) (social.Identity, error) { return v.Google(ctx, tok) }, "g1"},
		{"facebooklimited", `{"sub":"f1"}`, func(tok string) (social.Identity, error) { return v.Facebook(ctx, tok) }, "f1"},
		{"facebook", `{"id":"f2","name":"Ann"}`, func(tok string) (social.Identity, error) { return v.Facebook(ctx, tok) }, "f2"},
		{"steam", `{"steam_id":"76561197960287930"}`, func(tok string) (social.Identity, error) { return v.Steam(ctx, tok) }, "76561197960287930"},
		{"facebookinstantgame", `{"player_id":"p1"}`, func(tok string) (social.Identity, error) { return v.FacebookInstantGame(ctx, tok) }, "p1"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			var out struct{ Token string }
			if status := post(t, "/mint/"+tt.kind, tt.body, &out); status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			id, err := tt.verify(out.Token)
			if err != nil || id.ID != tt.wantID {
				t.Fatalf("got %+v, %v; want ID %s", id, err, tt.wantID)
			}
		})
	}
	t.Run("gamecenter", func(t *testing.T) {
		var out gameCenterAnswer
		if status := post(t, "/mint/gamecenter", `{"player_id":"T:_1"}`, &out); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		id, err := v.GameCenter(ctx, social.GameCenterCredential(out))
		if err != nil || id.ID != "T:_1" {
			t.Fatalf("got %+v, %v", id, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		var out struct{ Token string }
		post(t, "/mint/apple", `{"sub":"a1","exp":1000}`, &out)
		if _, err := v.Apple(ctx, out.Token); err == nil {
			t.Fatal("an expired token verified")
		}
	})
	t.Run("behavior", func(t *testing.T) {
		if status := post(t, "/behavior", `{"provider":"steam","behavior":"down"}`, nil); status != http.StatusNoContent {
			t.Fatalf("status %d", status)
		}
		var out struct{ Token string }
		post(t, "/mint/steam", `{"steam_id":"1"}`, &out)
		if _, err := v.Steam(ctx, out.Token); err == nil {
			t.Fatal("verified while Steam is down")
		}
		post(t, "/behavior", `{"provider":"steam","behavior":"normal"}`, nil)
	})
	for _, bad := range []struct{ path, body string }{
		{"/mint/apple", `{}`},
		{"/mint/myspace", `{"sub":"x"}`},
		{"/mint/apple", `{"sub":"x","typo":1}`},
		{"/behavior", `{"provider":"steam","behavior":"flaky"}`},
		{"/rotate", `{"provider":"myspace"}`},
	} {
		if status := post(t, bad.path, bad.body, nil); status != http.StatusBadRequest {
			t.Errorf("POST %s %s: status %d, want 400", bad.path, bad.body, status)
		}
	}
}
