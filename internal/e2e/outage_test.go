package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/faultproxy"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// newDatabaseProxy starts a fault proxy on a free loopback port in front of the database at dbURL, closed
// when the test ends, and returns it with dbURL pointed at it.
func newDatabaseProxy(t *testing.T, dbURL string) (*faultproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Listen(faultproxy.Config{Listen: "127.0.0.1:0", Upstream: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	return p, u.String()
}

// TestDatabaseOutage cuts one node's connection to PostgreSQL while another node keeps its own. During the
// cut the node validates tokens from memory (a session revoked before the cut is still refused, with 401),
// and everything that needs the database fails with 503 and code 14 (Unavailable), never a 500. A logout
// made on the other node meanwhile reaches the cut-off node once its connection is back, by the catch-up on
// the feed's sequence, and nothing written before the cut is lost.
func TestDatabaseOutage(t *testing.T) {
	db := pgtest.NewDatabase(t)
	proxy, viaProxy := newDatabaseProxy(t, db)
	x := startNode(t, "node-x", "--database.address", viaProxy)
	y := startNode(t, "node-y", "--database.address", db)

	kept := x.must("POST", "/v2/account/authenticate/device?username=kept", "basic", `{"id":"outage-device-kept"}`).pair(t)
	other := x.must("POST", "/v2/account/authenticate/device?username=other", "basic", `{"id":"outage-device-other"}`).pair(t)
	gone := x.must("POST", "/v2/account/authenticate/device?username=gone", "basic", `{"id":"outage-device-gone"}`).pair(t)
	x.must("POST", "/v2/session/logout", "bearer:"+gone.Token, `{"token":"`+gone.Token+`"}`).wantStatus(t, http.StatusOK)

	proxy.Cut()

	// Everything that needs the database answers Unavailable, within the request timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, req := range []struct{ method, path, auth, body string }{
		{"POST", "/v2/account/authenticate/device", "basic", `{"id":"outage-device-new"}`},
		{"POST", "/v2/account/authenticate/device", "basic", `{"id":"outage-device-kept"}`},
		{"POST", "/v2/account/session/refresh", "basic", `{"token":"` + kept.Refresh + `"}`},
		{"GET", "/v2/account", "bearer:" + kept.Token, ""},
		{"PUT", "/v2/account", "bearer:" + kept.Token, `{"display_name":"lost?"}`},
		{"POST", "/v2/session/logout", "bearer:" + kept.Token, `{"token":"` + kept.Token + `"}`},
	} {
		r, err := x.call(ctx, req.method, req.path, req.auth, req.body)
		if err != nil {
			t.Fatalf("%s %s during the outage: %v", req.method, req.path, err)
		}
		if r.Status != http.StatusServiceUnavailable || r.Body["code"] != float64(14) {
			t.Errorf("%s %s during the outage: %d %s, want 503 with code 14", req.method, req.path, r.Status, r.Raw)
		}
	}
	// A session revoked before the cut is refused from memory.
	x.must("GET", "/v2/account", "bearer:"+gone.Token, "").wantCode(t, http.StatusUnauthorized, 16)

	// Meanwhile the other node, still connected, logs a session out.
	y.must("POST", "/v2/session/logout", "bearer:"+other.Token, `{"token":"`+other.Token+`"}`).wantStatus(t, http.StatusOK)

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	converged := acceptedFor(t, x, other.Token, restored)
	t.Logf("after the connection came back, node-x refused the session logged out on node-y during the cut within %v", converged.Round(time.Millisecond))
	if converged > 5*time.Second {
		t.Errorf("node-x took %v to converge after the database came back", converged)
	}

	// Nothing was lost or half-applied: the kept session refreshes, its account is unchanged.
	r := x.must("POST", "/v2/account/session/refresh", "basic", `{"token":"`+kept.Refresh+`"}`).pair(t)
	acct := x.must("GET", "/v2/account", "bearer:"+r.Token, "")
	acct.wantStatus(t, http.StatusOK)
	if user, _ := acct.Body["user"].(map[string]any); user["display_name"] != nil || user["username"] != "kept" {
		t.Errorf("account after the outage: %s", acct.Raw)
	}
}

// TestHungDatabase freezes a node's database connections (no reply, nothing closed): requests that need the
// database answer 503 with code 14 before the connection's write timeout, so the client reads a retryable
// answer instead of a cut connection, and the node serves normally once the database answers again.
func TestHungDatabase(t *testing.T) {
	db := pgtest.NewDatabase(t)
	proxy, viaProxy := newDatabaseProxy(t, db)
	const writeTimeout = 3 * time.Second
	x := startNode(t, "node-x", "--database.address", viaProxy, "--socket.write_timeout_ms", "3000")
	s := x.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"hung-device-kept"}`).pair(t)

	proxy.Freeze()
	defer proxy.Thaw()
	for _, req := range []struct{ method, path, auth, body string }{
		{"POST", "/v2/account/authenticate/device", "basic", `{"id":"hung-device-new"}`},
		{"POST", "/v2/account/session/refresh", "basic", `{"token":"` + s.Refresh + `"}`},
	} {
		start := time.Now()
		r, err := x.call(context.Background(), req.method, req.path, req.auth, req.body)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s %s with the database hung: %v after %v (the answer was not delivered)", req.method, req.path, err, took)
		}
		if r.Status != http.StatusServiceUnavailable || r.Body["code"] != float64(14) {
			t.Errorf("%s %s with the database hung: %d %s, want 503 with code 14", req.method, req.path, r.Status, r.Raw)
		}
		if took >= writeTimeout {
			t.Errorf("%s %s answered after %v, at or past the %v write timeout", req.method, req.path, took, writeTimeout)
		}
	}
	// Validation needs no database: it goes on during the hang.
	x.must("GET", "/healthcheck", "", "").wantStatus(t, http.StatusOK)

	proxy.Thaw()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		r, err := x.call(ctx, "POST", "/v2/account/authenticate/device", "basic", `{"id":"hung-device-after"}`)
		if err == nil && r.Status == http.StatusOK {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the node did not recover after the database answered again: %v %d %s", err, r.Status, r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
