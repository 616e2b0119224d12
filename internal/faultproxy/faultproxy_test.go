package faultproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// quiet is how long a test waits to see that nothing arrives; long enough for loopback to deliver.
const quiet = 300 * time.Millisecond

// echoServer is an upstream on loopback that echoes what it reads and counts the connections it accepted.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	count int
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.count++
			s.mu.Unlock()
			s.wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// newProxy starts a proxy on a free loopback port in front of up, closed when the test ends (after up, as
// cleanups run last first, so that the echo server's connections end).
func newProxy(t *testing.T, up *echoServer, maxConns int) *Proxy {
	t.Helper()
	p, err := Listen(Config{Listen: "127.0.0.1:0", Upstream: up.ln.Addr().String(), MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send writes msg to c and reads back up to len(msg) bytes within wait.
func send(t *testing.T, c net.Conn, msg string, wait time.Duration) (string, error) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	return receive(c, len(msg), wait)
}

// wantEcho checks that msg sent on c comes back.
func wantEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if got, err := send(t, c, msg, 5*time.Second); err != nil || got != msg {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}

// receive reads n bytes from c within wait.
func receive(c net.Conn, n int, wait time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, n)
	got, err := io.ReadFull(c, buf)
	return string(buf[:got]), err
}

// wantClosed checks that the proxy closed c: a read ends at once with an error other than a timeout.
func wantClosed(t *testing.T, name string, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: read %d bytes, %v; want the connection closed", name, n, err)
	}
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

func TestForward(t *testing.T) {
	up := newEchoServer(t)
	p := newProxy(t, up, 0)
	c := dial(t, p)
	for _, msg := range []string{"hello", "again"} {
		wantEcho(t, c, msg)
	}
	if got, want := p.Counts(), (Counts{Accepted: 1, Open: 1}); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
}

// TestFreeze: while frozen, the proxy forwards nothing on an open connection or a new one and closes
// neither; the new one reaches the upstream only at the thaw, and what was held is then delivered both ways.
func TestFreeze(t *testing.T) {
	up := newEchoServer(t)
	p := newProxy(t, up, 0)
	old := dial(t, p)
	wantEcho(t, old, "before")

	p.Freeze()
	p.Freeze() // a second freeze changes nothing
	late := dial(t, p)
	conns := []struct {
		name string
		c    net.Conn
	}{{"open", old}, {"new", late}}
	for _, tt := range conns {
		if got, err := send(t, tt.c, tt.name, quiet); !errors.Is(err, os.ErrDeadlineExceeded) || got != "" {
			t.Errorf("%s connection while frozen: %q, %v; want nothing, and the connection open", tt.name, got, err)
		}
	}
	if got := up.accepted(); got != 1 {
		t.Errorf("the upstream accepted %d connections while frozen, want 1 (the one opened before)", got)
	}
	if got, want := p.Counts(), (Counts{Accepted: 2, AcceptedWhileFrozen: 1, Open: 2}); got != want {
		t.Errorf("Counts() while frozen = %+v, want %+v", got, want)
	}

	p.Thaw()
	p.Thaw()
	for _, tt := range conns {
		if got, err := receive(tt.c, len(tt.name), 5*time.Second); err != nil || got != tt.name {
			t.Errorf("%s connection after the thaw: %q, %v; want the held %q", tt.name, got, err, tt.name)
		}
		wantEcho(t, tt.c, "after")
	}
}

// TestCut: a cut closes every connection and refuses new ones; Restore serves on the same address again.
func TestCut(t *testing.T) {
	up := newEchoServer(t)
	p := newProxy(t, up, 0)
	addr := p.Addr()
	c := dial(t, p)
	wantEcho(t, c, "before")
	p.Freeze()
	waiting := dial(t, p) // waits for the thaw; a cut ends it all the same
	eventually(t, "the held connection counted", func() bool { return p.Counts().Open == 2 })

	p.Cut()
	wantClosed(t, "open connection after the cut", c)
	wantClosed(t, "held connection after the cut", waiting)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("dial after the cut succeeded, want refused")
	}
	eventually(t, "no connection open after the cut", func() bool { return p.Counts().Open == 0 })

	p.Thaw()
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restore(); err != nil {
		t.Errorf("second Restore: %v", err)
	}
	if p.Addr() != addr {
		t.Errorf("Addr() after Restore = %s, want %s", p.Addr(), addr)
	}
	wantEcho(t, dial(t, p), "restored")
}

func TestMaxConns(t *testing.T) {
	up := newEchoServer(t)
	p := newProxy(t, up, 1)
	first := dial(t, p)
	wantEcho(t, first, "first")
	wantClosed(t, "connection past MaxConns", dial(t, p))
	if got, want := p.Counts(), (Counts{Accepted: 1, Refused: 1, Open: 1}); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
}

// TestClose: Close, while frozen with connections held, closes every connection, stops listening and
// returns once every goroutine of the proxy has ended.
func TestClose(t *testing.T) {
	up := newEchoServer(t)
	before := runtime.NumGoroutine()
	p, err := Listen(Config{Listen: "127.0.0.1:0", Upstream: up.ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	open := dial(t, p)
	wantEcho(t, open, "before")
	p.Freeze()
	io.WriteString(open, "held")
	waiting := dial(t, p)
	eventually(t, "the held connection counted", func() bool { return p.Counts().Open == 2 })

	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s")
	}
	p.Close() // a second Close changes nothing
	wantClosed(t, "open connection after Close", open)
	wantClosed(t, "held connection after Close", waiting)
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Errorf("dial after Close succeeded, want refused")
	}
	if err := p.Restore(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Restore after Close = %v, want net.ErrClosed", err)
	}
	// The echo server's goroutine for the upstream connection ends once the proxy closed it.
	eventually(t, "goroutines back to their number before Listen", func() bool { return runtime.NumGoroutine() <= before })
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		listen, upstream string
		notLoopback      bool // else a malformed address
	}{
		{"10.0.0.1:0", "127.0.0.1:5432", true},
		{"0.0.0.0:0", "127.0.0.1:5432", true},
		{"[::]:0", "127.0.0.1:5432", true},
		{":0", "127.0.0.1:5432", false},
		{"localhost:0", "127.0.0.1:5432", false},
		{"127.0.0.1:0", "192.0.2.1:5432", true},
		{"127.0.0.1:0", "[2001:db8::1]:5432", true},
		{"127.0.0.1:0", ":5432", true},
		{"127.0.0.1:0", "127.0.0.1", false},
	}
	for _, tt := range tests {
		p, err := Listen(Config{Listen: tt.listen, Upstream: tt.upstream})
		if err == nil {
			p.Close()
			t.Errorf("Listen(%s -> %s) succeeded, want an error", tt.listen, tt.upstream)
			continue
		}
		if got := errors.Is(err, ErrNotLoopback); got != tt.notLoopback {
			t.Errorf("Listen(%s -> %s) = %v; ErrNotLoopback %v, want %v", tt.listen, tt.upstream, err, got, tt.notLoopback)
		}
	}
	// A host name's address is checked as the proxy connects.
	for addr, ok := range map[string]bool{"127.0.0.1:5432": true, "[::1]:5432": true, "192.0.2.1:5432": false} {
		if err := dialLoopback("tcp", addr, nil); (err == nil) != ok || !ok && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("dialLoopback(%s) = %v, want ok %v", addr, err, ok)
		}
	}
}

// TestUpstreamDown: a connection whose upstream refuses it is closed, and counted no more as open.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream := ln.Addr().String()
	ln.Close()
	p, err := Listen(Config{Listen: "127.0.0.1:0", Upstream: upstream})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	wantClosed(t, "connection to a closed upstream", dial(t, p))
	eventually(t, "no connection open", func() bool { return p.Counts().Open == 0 })
}
