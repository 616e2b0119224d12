package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// TestAdminAPIAcrossNodes runs two latchkey processes on one PostgreSQL database, the first with the admin
// API on. A player signs in on the second node and holds a socket there; banning the player through the
// first node's admin API makes the second node refuse the player's token within revocationBound and close
// the socket. The lookup, session list, events, unban and deletion go through the admin API too.
func TestAdminAPIAcrossNodes(t *testing.T) {
	const key = "e2e-admin-key-0123456789"
	db := pgtest.NewDatabase(t)
	port := freePort(t)
	a := startNode(t, "node-a", "--database.address", db, "--admin.key", key, "--admin.port", fmt.Sprint(port))
	b := startNode(t, "node-b", "--database.address", db)
	adm := &node{t: t, name: "node-a admin API", url: fmt.Sprintf("http://127.0.0.1:%d", port), client: http.DefaultClient}
	auth := "bearer:" + key

	p := b.must("POST", "/v2/account/authenticate/device?username=adminplayer", "basic", `{"id":"admin-api-device-01"}`).pair(t)
	uid := uidOf(t, p.Token)
	sock := b.socket(t, p.Token)
	sock.rpc("none", "") // any answer: the socket is up on node B

	adm.must("GET", "/v1/users/"+uid, "", "").wantCode(t, http.StatusUnauthorized, 16)
	found := adm.must("GET", "/v1/users?device_id=admin-api-device-01", auth, "")
	found.wantStatus(t, http.StatusOK)
	if user, _ := found.Body["user"].(map[string]any); user["id"] != uid || user["username"] != "adminplayer" || found.Body["banned"] != false {
		t.Fatalf("lookup by device id: %s", found.Raw)
	}
	list := adm.must("GET", "/v1/users/"+uid+"/sessions", auth, "")
	if s, _ := list.Body["sessions"].([]any); list.Status != http.StatusOK || len(s) != 1 || s[0].(map[string]any)["id"] != servertest.Claims(t, p.Token)["tid"] {
		t.Fatalf("sessions: %d %s", list.Status, list.Raw)
	}

	start := time.Now()
	ban := adm.must("POST", "/v1/users/"+uid+"/ban", auth, `{"reason":"wallhack"}`)
	ban.wantStatus(t, http.StatusOK)
	if ban.Body["ended"] != float64(1) {
		t.Errorf("ban: %s, want ended 1", ban.Raw)
	}
	if d := acceptedFor(t, b, p.Token, start); d > revocationBound {
		t.Errorf("node-b accepted the banned player's token for %v after the admin API call, bound %v", d, revocationBound)
	} else {
		t.Logf("node-b refused the banned player's token %v after the admin API call began", d.Round(time.Millisecond))
	}
	t.Logf("node-b closed the banned player's socket %v after the admin API call began",
		sock.closedWithin("admin API ban on another node", start, revocationBound).Round(time.Millisecond))
	b.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"admin-api-device-01"}`).wantCode(t, http.StatusForbidden, 7)
	a.must("POST", "/v2/account/session/refresh", "basic", `{"token":"`+p.Refresh+`"}`).wantCode(t, http.StatusForbidden, 7)

	evs := adm.must("GET", "/v1/users/"+uid+"/events", auth, "")
	if !strings.Contains(evs.Raw, `"kind":"user_banned"`) || !strings.Contains(evs.Raw, `"reason":"admin API: wallhack"`) {
		t.Errorf("events after the ban: %s", evs.Raw)
	}

	adm.must("POST", "/v1/users/"+uid+"/unban", auth, "").wantStatus(t, http.StatusOK)
	again := b.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"admin-api-device-01"}`).pair(t)
	a.must("GET", "/v2/account", "bearer:"+again.Token, "").wantStatus(t, http.StatusOK)

	start = time.Now()
	adm.must("DELETE", "/v1/users/"+uid, auth, `{"reason":"erasure request"}`).wantStatus(t, http.StatusOK)
	if d := acceptedFor(t, b, again.Token, start); d > revocationBound {
		t.Errorf("node-b accepted the deleted account's token for %v, bound %v", d, revocationBound)
	}
	adm.must("GET", "/v1/users/"+uid, auth, "").wantCode(t, http.StatusNotFound, 5)
}
