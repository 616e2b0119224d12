package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
)

// serveRaw runs a whole server on loopback with the test config and returns its address.
func serveRaw(t *testing.T) string {
	t.Helper()
	_, addr := serveConfig(t, testConfig(t), Options{})
	return addr
}

// testConfig is the default config with a fresh data directory and the cheapest bcrypt cost.
func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Auth.BcryptCost = 4
	return cfg
}

// serveConfig runs a whole server with cfg and opts on loopback and returns it with its address.
func serveConfig(t *testing.T, cfg config.Config, opts Options) (*Server, string) {
	t.Helper()
	srv, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return srv, ln.Addr().String()
}

// exchange writes raw request bytes on one connection made by dial and reads the answers to n requests,
// then reports whether the server closed the connection.
func exchange(t *testing.T, dial func() (net.Conn, error), raw string, n int) (statuses []int, closed bool) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for range n {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	return statuses, err == io.EOF
}

const basicAuth = "Authorization: Basic ZGVmYXVsdGtleTo=\r\n"

func device(id string) string { return `{"id":"` + id + `"}` }

const fakeHead = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"

// TestAmbiguousFraming runs on the plain port and on the TLS port, where the watcher must see the
// decrypted bytes.
func TestAmbiguousFraming(t *testing.T) {
	plain := serveRaw(t)
	tlsCfg, ca := tlsTestConfig(t)
	_, secure := serveConfig(t, tlsCfg, Options{})
	transports := []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"plain", func() (net.Conn, error) { return net.Dial("tcp", plain) }},
		{"TLS", func() (net.Conn, error) {
			return tls.Dial("tcp", secure, &tls.Config{RootCAs: ca, NextProtos: []string{"http/1.1"}})
		}},
	}
	body := device("framing-device-01")
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	tests := []struct {
		name   string
		raw    string
		n      int
		want   []int
		closed bool
	}{
		{"both headers", "POST /v2/account/authenticate/device HTTP/1.1\r\nHost: x\r\n" + basicAuth +
			"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, 2, []int{400}, true},
		{"both headers, other order and case", "POST /v2/account/authenticate/device HTTP/1.1\r\nHost: x\r\n" + basicAuth +
			"transfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n" + chunked, 2, []int{400}, true},
		{"chunked then plain, kept alive", "POST /v2/account/authenticate/device HTTP/1.1\r\nHost: x\r\n" + basicAuth +
			"Transfer-Encoding: chunked\r\n\r\n" + chunked + "GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n", 2, []int{200, 200}, false},
		// The body holds what looks like an ambiguous head: the watcher must skip it as body, or the next,
		// plain request would be refused in its place.
		{"a body that looks like an ambiguous head", "GET /healthcheck HTTP/1.1\r\nHost: x\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(fakeHead)) + fakeHead +
			"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n", 2, []int{200, 200}, false},
		{"a chunk that looks like an ambiguous head", "POST /healthcheck HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x;ext=1\r\n%s\r\n0\r\nTrailer: x\r\n\r\n", len(fakeHead), fakeHead) +
			"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n", 2, []int{501, 200}, false}, // POST /healthcheck: wrong method
		{"plain keep-alive", "GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\nGET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n", 2, []int{200, 200}, false},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				got, closed := exchange(t, tr.dial, tt.raw, tt.n)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) || closed != tt.closed {
					t.Errorf("statuses %v closed %v, want %v closed %v", got, closed, tt.want, tt.closed)
				}
			})
		}
	}
}

func TestRequestDeadline(t *testing.T) {
	for _, tt := range []struct{ write, want time.Duration }{
		{0, 0},
		{10 * time.Second, 8 * time.Second},
		{time.Minute, 58 * time.Second},
		{2 * time.Second, 1500 * time.Millisecond},
		{600 * time.Millisecond, 300 * time.Millisecond},
	} {
		if got := requestDeadline(tt.write); got != tt.want {
			t.Errorf("requestDeadline(%v) = %v, want %v", tt.write, got, tt.want)
		}
	}
}

// TestFramingStopsAtUpgrade: a websocket's frames are not buffered as if they were a request head.
func TestFramingStopsAtUpgrade(t *testing.T) {
	c := &framingConn{}
	c.watch([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
	for range 100 {
		c.watch(make([]byte, 1024)) // frames
	}
	if c.state != lost || len(c.head) != 0 || cap(c.head) != 0 {
		t.Errorf("after an upgrade: state %v, head %d bytes (cap %d); want no watching and nothing held", c.state, len(c.head), cap(c.head))
	}
	if c.next() {
		t.Errorf("the upgrade request was recorded as ambiguous")
	}
}
