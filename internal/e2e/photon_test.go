package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPhotonBuiltIn configures the stock binary as a Photon custom-authentication provider with flags
// only, no server code, and calls it as Photon does: a GET with the client's and the dashboard's
// parameters in the query, and a POST of the client's AuthPostData dictionary with the dashboard's secret
// in the query. It admits a valid player, with the configured session variables, and refuses the player
// once logged out.
func TestPhotonBuiltIn(t *testing.T) {
	const secret = "e2e-photon-dashboard-secret"
	n := startNode(t, "photon", "--photon.enabled", "true", "--photon.secret", secret,
		"--photon.auth_cookie_vars", "team", "--photon.data_vars", "region")
	s := n.must("POST", "/v2/account/authenticate/device?username=photon_player", "basic",
		`{"id":"photon-e2e-device-01","vars":{"team":"blue","region":"eu"}}`).pair(t)
	uid := uidOf(t, s.Token)

	get := func() map[string]any {
		t.Helper()
		r := n.must("GET", "/photon/auth?"+url.Values{"token": {s.Token}, "secret": {secret}}.Encode(), "", "")
		r.wantStatus(t, http.StatusOK)
		return r.Body
	}
	post := func() map[string]any {
		t.Helper()
		res, err := n.client.Post(n.url+"/photon/auth?secret="+secret, "application/json",
			strings.NewReader(`{"token":"`+s.Token+`","client_version":"1.2.0"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("POST: %d %q; want 200 with a JSON object", res.StatusCode, raw)
		}
		return body
	}

	for mode, call := range map[string]func() map[string]any{"GET": get, "POST": post} {
		got := call()
		cookie, _ := got["AuthCookie"].(map[string]any)
		data, _ := got["Data"].(map[string]any)
		if got["ResultCode"] != 1.0 || got["UserId"] != uid || got["Nickname"] != "photon_player" ||
			cookie["team"] != "blue" || cookie["session_id"] == nil || data["region"] != "eu" || len(data) != 1 {
			t.Errorf("%s with a valid token: %v; want ResultCode 1, the player, team in AuthCookie, region in Data", mode, got)
		}
	}

	n.must("POST", "/v2/session/logout", "bearer:"+s.Token, `{"token":"`+s.Token+`"}`).wantStatus(t, http.StatusOK)
	for mode, call := range map[string]func() map[string]any{"GET": get, "POST": post} {
		if got := call(); got["ResultCode"] != 2.0 || got["Message"] != "Session has ended; log in again." {
			t.Errorf("%s after logout: %v; want ResultCode 2, the session has ended", mode, got)
		}
	}
}
