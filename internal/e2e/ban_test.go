package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// uidOf reads the uid claim of a session token.
func uidOf(t *testing.T, token string) string {
	t.Helper()
	uid, _ := servertest.Claims(t, token)["uid"].(string)
	return uid
}

// admin runs a latchkey admin command as its own process, as an operator would, and returns its standard
// output (standard error says which store it opened).
func admin(t *testing.T, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command(binary(t), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("latchkey %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestAdminBanReachesRunningServers bans a player with `latchkey users ban` from a separate process while
// servers are running on the same store, on SQLite and on PostgreSQL: every server refuses the player's
// tokens within a second, authentication answers 403, and `users unban` lets the player back in.
func TestAdminBanReachesRunningServers(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var store []string
			if backend == "sqlite" {
				store = []string{"--data_dir", t.TempDir()}
			} else {
				store = []string{"--database.address", pgtest.NewDatabase(t)}
			}
			nodes := []*node{startNode(t, "node-1", store...)}
			if backend == "postgres" {
				nodes = append(nodes, startNode(t, "node-2", store...))
			}
			s := nodes[0].must("POST", "/v2/account/authenticate/device?username=cheater", "basic", `{"id":"ban-me-device-01"}`).pair(t)
			uid := uidOf(t, s.Token)

			out := admin(t, append([]string{"users", "ban", uid, "--reason", "aimbot"}, store...)...)
			if !strings.Contains(out, "ended 1 session") {
				t.Errorf("ban output: %q", out)
			}
			start := time.Now()
			for _, n := range nodes {
				if d := acceptedFor(t, n, s.Token, start); d > revocationBound {
					t.Errorf("%s accepted the banned player's token for %v", n.name, d)
				} else {
					t.Logf("%s refused the banned player's token %v after the ban command returned", n.name, d.Round(time.Millisecond))
				}
				n.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"ban-me-device-01"}`).wantCode(t, http.StatusForbidden, 7)
				n.must("POST", "/v2/account/session/refresh", "basic", `{"token":"`+s.Refresh+`"}`).wantCode(t, http.StatusForbidden, 7)
			}

			events := admin(t, append([]string{"sessions", "events", "--user", uid}, store...)...)
			for _, want := range []string{"user_banned", "session_revoked", "session_created", "aimbot"} {
				if !strings.Contains(events, want) {
					t.Errorf("sessions events output lacks %q:\n%s", want, events)
				}
			}

			admin(t, append([]string{"users", "unban", uid}, store...)...)
			again := nodes[len(nodes)-1].must("POST", "/v2/account/authenticate/device", "basic", `{"id":"ban-me-device-01"}`).pair(t)
			nodes[0].must("GET", "/v2/account", "bearer:"+again.Token, "").wantStatus(t, http.StatusOK)
			list := admin(t, append([]string{"sessions", "list", "--user", uid}, store...)...)
			if strings.Count(strings.TrimSpace(list), "\n") != 1 {
				t.Errorf("sessions list after unban and one login:\n%s", list)
			}
		})
	}
}
