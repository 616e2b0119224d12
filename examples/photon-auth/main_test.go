package main

import (
	"bytes"
	"encoding/json"
	"github.com/latchkeyhq/latchkey/examples/internal/examplesrv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPhotonAuth(t *testing.T) {
	t.Parallel()
	base := examplesrv.Start(t, InitModule)
	endpoint := base + "/v2/rpc/photon_auth?http_key=defaulthttpkey&unwrap=true"

	valid := authenticate(t, base, "device-photon-0001")
	c := claimsOf(t, valid)
	loggedOut := authenticate(t, base, "device-photon-0002")
	if status, body := request(t, "POST", base+"/v2/session/logout", loggedOut, `{"token":"`+loggedOut+`"}`, "application/json"); status != http.StatusOK {
		t.Fatalf("logout: status %d, body %s", status, body)
	}
	sig := strings.LastIndex(valid, ".") + 1
	flipped := byte('A')
	if valid[sig] == 'A' {
		flipped = 'B'
	}
	tampered := valid[:sig] + string(flipped) + valid[sig+1:]

	tests := []struct {
		name, query string
		want        photonResult
	}{
		{"valid token", "&auth_token=" + url.QueryEscape(valid), photonResult{ResultCode: 1, UserID: c.UID, Nickname: c.USN}},
		{"no auth_token", "", photonResult{ResultCode: 3, Message: msgMissing}},
		{"empty auth_token", "&auth_token=", photonResult{ResultCode: 3, Message: msgMissing}},
		{"garbage token", "&auth_token=not-a-token", photonResult{ResultCode: 2, Message: msgInvalid}},
		{"tampered signature", "&auth_token=" + url.QueryEscape(tampered), photonResult{ResultCode: 2, Message: msgInvalid}},
		{"logged-out token", "&auth_token=" + url.QueryEscape(loggedOut), photonResult{ResultCode: 2, Message: msgEnded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Photon's default call is a GET without a Content-Type.
			status, body := request(t, "GET", endpoint+tt.query, "", "", "")
			checkResult(t, status, body, tt.want)
		})
	}

	t.Run("POST with a JSON dictionary", func(t *testing.T) {
		// Photon with AuthPostData set to a dictionary posts JSON; the server then echoes application/json.
		resp, err := http.Post(endpoint, "application/json", strings.NewReader(`{"auth_token":"`+valid+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q; want application/json", ct)
		}
		checkResult(t, resp.StatusCode, b.Bytes(), photonResult{ResultCode: 1, UserID: c.UID, Nickname: c.USN})
	})

	t.Run("POST body not JSON", func(t *testing.T) {
		status, body := request(t, "POST", endpoint, "", "auth_token=x", "application/x-www-form-urlencoded")
		checkResult(t, status, body, photonResult{ResultCode: 3, Message: msgMissing})
	})

	t.Run("wrong http_key", func(t *testing.T) {
		// The server refuses the caller before the module runs: a 401, not a result code.
		status, body := request(t, "GET", base+"/v2/rpc/photon_auth?http_key=wrong&unwrap=true&auth_token="+url.QueryEscape(valid), "", "", "")
		var e struct{ Code int }
		if err := json.Unmarshal(body, &e); err != nil || status != http.StatusUnauthorized || e.Code != 16 {
			t.Errorf("status %d, body %s; want 401 with code 16", status, body)
		}
	})
}

func TestPhotonAuthExpiredToken(t *testing.T) {
	t.Parallel()
	base := examplesrv.Start(t, InitModule, "--session.token_expiry_sec", "1")
	token := authenticate(t, base, "device-photon-0003")
	time.Sleep(time.Until(time.Unix(claimsOf(t, token).EXP, 0)) + 100*time.Millisecond)
	status, body := request(t, "GET", base+"/v2/rpc/photon_auth?http_key=defaulthttpkey&unwrap=true&auth_token="+url.QueryEscape(token), "", "", "")
	checkResult(t, status, body, photonResult{ResultCode: 2, Message: msgExpired})
}

// checkResult checks Photon's contract: HTTP 200 and a JSON object, for success and failure alike.
func checkResult(t *testing.T, status int, body []byte, want photonResult) {
	t.Helper()
	var got photonResult
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, body %s; want 200 with a JSON object", status, body)
	}
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
}

type claims struct {
	UID string `json:"uid"`
	USN string `json:"usn"`
	EXP int64  `json:"exp"`
}

// claimsOf decodes a token's payload without checking it; the server checks it when the token is used.
func claimsOf(t *testing.T, token string) claims {
	t.Helper()
	var c claims
	examplesrv.DecodePayload(t, token, &c)
	return c
}

func authenticate(t *testing.T, base, deviceID string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v2/account/authenticate/device", strings.NewReader(`{"id":"`+deviceID+`"}`))
	req.SetBasicAuth("defaultkey", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticate: status %d, err %v", resp.StatusCode, err)
	}
	return s.Token
}

// request sends body with the bearer token and Content-Type, each left out when empty.
func request(t *testing.T, method, url, bearer, body, contentType string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out.Bytes()
}
