package main

import (
	"bytes"
	"encoding/json"
	"github.com/latchkeyhq/latchkey/examples/internal/examplesrv"
	"maps"
	"net/http"
	"strconv"
	"testing"
)

func TestSessionVars(t *testing.T) {
	base := examplesrv.Start(t, InitModule, "--runtime.env", "blocked_regions=north-pole,south-pole")
	tests := []struct {
		name       string
		region     string // X-Region header; none when empty
		vars       map[string]string
		wantVars   map[string]string
		wantStatus int // of GET /v2/account
	}{
		{"no header, no vars", "", nil, map[string]string{"region": "global", "tier": "free"}, 200},
		{"header and client vars", "EU-West", map[string]string{"platform": "android"},
			map[string]string{"region": "eu-west", "tier": "free", "platform": "android"}, 200},
		{"client sets region and tier itself", "", map[string]string{"region": "north-pole", "tier": "gold", "platform": "pc"},
			map[string]string{"region": "global", "tier": "free", "platform": "pc"}, 200},
		{"implausible header", "../north pole", nil, map[string]string{"region": "global", "tier": "free"}, 200},
		{"blocked region", "north-pole", nil, map[string]string{"region": "north-pole", "tier": "free"}, 403},
		{"blocked region, second entry", "South-Pole", map[string]string{"region": "global"},
			map[string]string{"region": "south-pole", "tier": "free"}, 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, refresh := authenticate(t, base, "device-vars-"+strconv.Itoa(1000+i), tt.region, tt.vars)
			c := claimsOf(t, token)
			if !maps.Equal(c.VRS, tt.wantVars) {
				t.Errorf("token vrs = %v; want %v", c.VRS, tt.wantVars)
			}
			if tt.wantStatus == 403 {
				// A refresh that tries to change the region keeps the login's vars, and the refusal.
				token = refreshSession(t, base, refresh, map[string]string{"region": "global"})
				if got := claimsOf(t, token).VRS; !maps.Equal(got, tt.wantVars) {
					t.Errorf("refreshed token vrs = %v; want %v", got, tt.wantVars)
				}
			}

			req, _ := http.NewRequest("GET", base+"/v2/account", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				User    struct{ ID string } `json:"user"`
				Code    int                 `json:"code"`
				Message string              `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET /v2/account: status %d, err %v; want %d", resp.StatusCode, err, tt.wantStatus)
			}
			switch {
			case tt.wantStatus == 200 && body.User.ID != c.UID:
				t.Errorf("GET /v2/account: user id %q; want %q", body.User.ID, c.UID)
			case tt.wantStatus == 403 && (body.Code != 7 || body.Message == ""):
				t.Errorf("GET /v2/account: %+v; want code 7 with a message", body)
			}
		})
	}
}

type claims struct {
	UID string            `json:"uid"`
	VRS map[string]string `json:"vrs"`
}

// claimsOf decodes a token's payload without checking it; the server checks it when the token is used.
func claimsOf(t *testing.T, token string) claims {
	t.Helper()
	var c claims
	examplesrv.DecodePayload(t, token, &c)
	return c
}

// authenticate logs a device in with the region header (none when empty) and the client's vars, and
// returns the session and refresh tokens.
func authenticate(t *testing.T, base, deviceID, region string, vars map[string]string) (string, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": deviceID, "vars": vars})
	return session(t, base+"/v2/account/authenticate/device", body, region)
}

func refreshSession(t *testing.T, base, refreshToken string, vars map[string]string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"token": refreshToken, "vars": vars})
	token, _ := session(t, base+"/v2/account/session/refresh", body, "")
	return token
}

// session posts body with the server key (and the region header unless empty) and decodes a session.
func session(t *testing.T, url string, body []byte, region string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.SetBasicAuth("defaultkey", "")
	if region != "" {
		req.Header.Set("X-Region", region)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d, err %v", url, resp.StatusCode, err)
	}
	return s.Token, s.RefreshToken
}
