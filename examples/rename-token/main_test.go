package main

import (
	"bytes"
	"encoding/json"
	"github.com/latchkeyhq/latchkey/examples/internal/examplesrv"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestUpdateUsername(t *testing.T) {
	base := examplesrv.Start(t, InitModule)
	rpc := base + "/v2/rpc/update_username?unwrap=true"

	old := authenticate(t, base, "device-rename-0001", map[string]string{"platform": "ios"})
	oldClaims := claimsOf(t, old)

	status, body := request(t, "POST", rpc, old, `{"username": "renamed_player"}`)
	if status != http.StatusOK {
		t.Fatalf("rename: status %d, body %s; want 200", status, body)
	}
	var got struct {
		Token string `json:"token"`
		Exp   int64  `json:"exp"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("rename: %v in %s", err, body)
	}
	c := claimsOf(t, got.Token)
	if c.USN != "renamed_player" || c.UID != oldClaims.UID || c.EXP != got.Exp || c.VRS["platform"] != "ios" {
		t.Errorf("new token claims = %+v, exp %d; want usn renamed_player, uid %s, exp as answered, vrs platform=ios", c, got.Exp, oldClaims.UID)
	}

	status, body = request(t, "GET", base+"/v2/account", got.Token, "")
	var acct struct {
		User struct{ ID, Username string } `json:"user"`
	}
	if err := json.Unmarshal(body, &acct); status != http.StatusOK || err != nil {
		t.Fatalf("GET /v2/account with the new token: status %d, body %s", status, body)
	}
	if acct.User.ID != oldClaims.UID || acct.User.Username != "renamed_player" {
		t.Errorf("account = %+v; want id %s, username renamed_player", acct.User, oldClaims.UID)
	}

	// Without unwrap the payload travels as a JSON string and the answer is {"payload": "..."}.
	status, body = request(t, "POST", base+"/v2/rpc/update_username", old, strconv.Quote(`{"username":"renamed_again"}`))
	var wrapped struct{ Payload string }
	if err := json.Unmarshal(body, &wrapped); status != http.StatusOK || err != nil || !strings.Contains(wrapped.Payload, `"token"`) {
		t.Errorf("wrapped rename: status %d, body %s; want 200 with a token in payload", status, body)
	}

	other := authenticate(t, base, "device-rename-0002", nil)
	tests := []struct {
		name, url, bearer, body string
		wantStatus, wantCode    int
	}{
		{"http key, no user", rpc + "&http_key=defaulthttpkey", "", `{"username":"x_from_server"}`, 401, 16},
		{"empty body", rpc, other, ``, 400, 3},
		{"not JSON", rpc, other, `{"username":`, 400, 3},
		{"empty username", rpc, other, `{"username":""}`, 400, 3},
		{"username with a space", rpc, other, `{"username":"two words"}`, 400, 3},
		{"username too long", rpc, other, `{"username":"` + strings.Repeat("n", 129) + `"}`, 400, 3},
		{"username taken", rpc, other, `{"username":"renamed_again"}`, 409, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := request(t, "POST", tt.url, tt.bearer, tt.body)
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil || status != tt.wantStatus || e.Code != tt.wantCode || e.Message == "" {
				t.Errorf("status %d, body %s; want %d with code %d and a message", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

type claims struct {
	UID string            `json:"uid"`
	USN string            `json:"usn"`
	VRS map[string]string `json:"vrs"`
	EXP int64             `json:"exp"`
}

// claimsOf decodes a token's payload without checking it; the server checks it when the token is used.
func claimsOf(t *testing.T, token string) claims {
	t.Helper()
	var c claims
	examplesrv.DecodePayload(t, token, &c)
	return c
}

func authenticate(t *testing.T, base, deviceID string, vars map[string]string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": deviceID, "vars": vars})
	req, _ := http.NewRequest("POST", base+"/v2/account/authenticate/device", bytes.NewReader(body))
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

// request sends body (none when empty) with the bearer token (none when empty) and returns the answer.
func request(t *testing.T, method, url, bearer, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
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
