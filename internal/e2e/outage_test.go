package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// cutProxy forwards loopback TCP connections to a target until it is cut: then it closes every open
// connection and stops listening, so new connections are refused, as when a database host goes away.
// Restore listens on the same address again.
type cutProxy struct {
	t      *testing.T
	addr   string
	target string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	frozen chan struct{} // non-nil while frozen; closed by Thaw
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut while dialing
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { p.copy(up, c); up.Close(); c.Close() }()
	p.copy(c, up)
	c.Close()
	up.Close()
}

// copy forwards src to dst, holding each read while the proxy is frozen.
func (p *cutProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.frozen
			p.mu.Unlock()
			if gate != nil {
				<-gate
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze stops forwarding while keeping every connection open, as a database that hangs.
func (p *cutProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
}

// Thaw forwards again, starting with what was held.
func (p *cutProxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
}

// Cut closes every connection and the listener.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore listens on the proxy's address again.
func (p *cutProxy) Restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restore proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseOutage cuts one node's connection to PostgreSQL while another node keeps its own. During the
// cut the node validates tokens from memory (a session revoked before the cut is still refused, with 401),
// and everything that needs the database fails with 503 and code 14 (Unavailable), never a 500. A logout
// made on the other node meanwhile reaches the cut-off node once its connection is back, by the catch-up on
// the feed's sequence, and nothing written before the cut is lost.
func TestDatabaseOutage(t *testing.T) {
	db := pgtest.NewDatabase(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	x := startNode(t, "node-x", "--database.address", viaProxy.String())
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

	proxy.Restore()
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
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	const writeTimeout = 3 * time.Second
	x := startNode(t, "node-x", "--database.address", viaProxy.String(), "--socket.write_timeout_ms", "3000")
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
