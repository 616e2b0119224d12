package servertest_test

import (
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

func TestServer(t *testing.T) {
	_, url := servertest.Start(t, servertest.Config(t), server.Options{})
	tok := servertest.Authenticate(t, url, "device", "servertest-device-01", map[string]string{"client": "x"})

	c := servertest.Claims(t, tok)
	if vrs, _ := c["vrs"].(map[string]any); c["usn"] != "uservertestdevice01" || vrs["client"] != "x" {
		t.Errorf("claims %v", c)
	}
	a := servertest.Do(t, url, "GET", "/v2/account", "Bearer "+tok, "", "Accept", "application/json")
	user, _ := a.JSON["user"].(map[string]any)
	if a.Status != 200 || a.ContentType != "application/json" || user["id"] != c["uid"] {
		t.Errorf("get account: %d %s %s", a.Status, a.ContentType, a.Body)
	}
	servertest.Do(t, url, "GET", "/v2/account", servertest.Basic("defaultkey"), "").WantError(t, 401, 16, "")
}

func TestTokenAndServe(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.Config(t), server.Options{})
	tok := servertest.Token(t, srv, "servertest-device-02")
	w := servertest.Serve(srv.API, "GET", "/v2/account", "Bearer "+tok, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"servertest-device-02"`) {
		t.Errorf("get account: %d %s", w.Code, w.Body)
	}
	if w := servertest.Serve(srv.API, "GET", "/v2/account", "", ""); w.Code != 401 {
		t.Errorf("get account without a token: %d %s", w.Code, w.Body)
	}
}
