package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/testcert"
)

// tlsFiles is a test's CA and the certificate pair files the server is configured with.
type tlsFiles struct {
	ca                *testcert.CA
	certFile, keyFile string
}

func newTLSFiles(t *testing.T) tlsFiles {
	dir := t.TempDir()
	f := tlsFiles{ca: testcert.NewCA(t, "latchkey test CA"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	f.ca.Issue(t, "first", time.Time{}, time.Time{}).Write(t, f.certFile, f.keyFile)
	return f
}

func (f tlsFiles) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.ca.Cert)
	return p
}

// tlsTestConfig is the test config with a fresh certificate pair, and the pool that trusts it.
func tlsTestConfig(t *testing.T) (config.Config, *x509.CertPool) {
	f := newTLSFiles(t)
	return f.config(t), f.pool()
}

func (f tlsFiles) config(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.Socket.SSLCertificate, cfg.Socket.SSLPrivateKey = f.certFile, f.keyFile
	return cfg
}

// servedName is the common name of the certificate a new connection to addr gets.
func servedName(t *testing.T, addr string, pool *x509.CertPool) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// syncBuffer is a log destination the server's goroutines may write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keyLeaked reports whether text holds any line of a PEM private key, header or body.
func keyLeaked(text string, keyPEM []byte) bool {
	for _, line := range strings.Split(strings.TrimSpace(string(keyPEM)), "\n") {
		if len(line) >= 16 && strings.Contains(text, line) {
			return true
		}
	}
	return strings.Contains(text, "PRIVATE KEY")
}

// login authenticates a device at base through client and returns the answer with its session token, ""
// when there is none.
func login(t *testing.T, client *http.Client, base, deviceID string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v2/account/authenticate/device", strings.NewReader(device(deviceID)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("defaultkey", "")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var session struct{ Token string }
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&session); err != nil {
			t.Fatal(err)
		}
	}
	return res, session.Token
}

func TestLoadPair(t *testing.T) {
	ca := testcert.NewCA(t, "latchkey test CA")
	dir := t.TempDir()
	good := ca.Issue(t, "good", time.Time{}, time.Time{})
	other := ca.Issue(t, "other", time.Time{}, time.Time{})
	expired := ca.Issue(t, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodCert, goodKey := write("good.pem", good.CertPEM), write("good.key", good.KeyPEM)
	otherKey := write("other.key", other.KeyPEM)
	expiredCert, expiredKey := write("expired.pem", expired.CertPEM), write("expired.key", expired.KeyPEM)
	garbage := write("garbage.key", []byte("not a key\n"))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name, cert, key string
		want            []string // in the error; none means no error
	}{
		{"a matching pair", goodCert, goodKey, nil},
		{"missing certificate", missing, goodKey, []string{"socket.ssl_certificate", missing}},
		{"missing key", goodCert, missing, []string{"socket.ssl_private_key", missing}},
		{"the key of another certificate", goodCert, otherKey, []string{goodCert, otherKey, "does not match"}},
		{"no key in the key file", goodCert, garbage, []string{garbage}},
		{"the certificate as the key", goodCert, goodCert, []string{goodCert}},
		{"expired", expiredCert, expiredKey, []string{expiredCert, "expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := loadPair(tt.cert, tt.key, time.Now())
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := cert.Leaf.Subject.CommonName; got != "good" {
					t.Errorf("loaded %q, want good", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded %s with %s, want an error", tt.cert, tt.key)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, k := range [][]byte{good.KeyPEM, other.KeyPEM, expired.KeyPEM} {
				if keyLeaked(err.Error(), k) {
					t.Errorf("error %q quotes key material", err)
				}
			}
		})
	}
}

// TestServeRefusesBadPair: a pair that does not load stops Serve before it answers anything.
func TestServeRefusesBadPair(t *testing.T) {
	f := newTLSFiles(t)
	f.ca.Issue(t, "other", time.Time{}, time.Time{}).Write(t, filepath.Join(t.TempDir(), "c.pem"), f.keyFile) // a key that does not match
	srv, err := New(context.Background(), f.config(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Serve(ctx, ln)
	if err == nil || !strings.Contains(err.Error(), f.certFile) || !strings.Contains(err.Error(), f.keyFile) {
		t.Fatalf("Serve returned %v, want an error naming %s and %s", err, f.certFile, f.keyFile)
	}
}

func TestTLSPort(t *testing.T) {
	cfg, pool := tlsTestConfig(t)
	_, addr := serveConfig(t, cfg, Options{})
	base := "https://" + addr

	for _, tt := range []struct {
		name      string
		transport *http.Transport
		proto     string
	}{
		{"HTTP/2", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, "HTTP/2.0"},
		// An empty TLSNextProto turns HTTP/2 off in the client.
		{"HTTP/1.1", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, "HTTP/1.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.transport.CloseIdleConnections()
			client := &http.Client{Transport: tt.transport, Timeout: 10 * time.Second}
			res, token := login(t, client, base, "tls-device-"+strings.ReplaceAll(tt.name, "/", "-"))
			if token == "" || res.Proto != tt.proto {
				t.Fatalf("got %s %d without a token, want %s 200 with a token", res.Proto, res.StatusCode, tt.proto)
			}
		})
	}

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})

	t.Run("plain HTTP is told to use HTTPS", func(t *testing.T) {
		got := string(testcert.PlainHTTPAnswer(t, addr))
		if !strings.HasPrefix(got, "HTTP/1.0 400 ") || !strings.HasSuffix(got, "\r\n\r\nClient sent an HTTP request to an HTTPS server.\n") {
			t.Fatalf("plain HTTP got %q, want a 400 saying to use HTTPS, then the connection closed", got)
		}
	})
}

// TestTLSWebsocket: the realtime socket's upgrade works over TLS (an HTTP/1.1 connection).
func TestTLSWebsocket(t *testing.T) {
	cfg, pool := tlsTestConfig(t)
	_, addr := serveConfig(t, cfg, Options{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	res, token := login(t, client, "https://"+addr, "tls-socket-device")
	if token == "" {
		t.Fatalf("no token in the answer %d", res.StatusCode)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
	ws, wres, err := d.Dial("wss://"+addr+"/ws?token="+url.QueryEscape(token), nil)
	if err != nil {
		status := 0
		if wres != nil {
			status = wres.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"cid":"1","ping":{}}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(msg), `"pong"`) || !strings.Contains(string(msg), `"cid":"1"`) {
		t.Fatalf("got %s (%v), want the pong of cid 1", msg, err)
	}
}

func TestReloadTLS(t *testing.T) {
	f := newTLSFiles(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, addr := serveConfig(t, f.config(t), Options{Logger: log})
	pool := f.pool()
	if got := servedName(t, addr, pool); got != "first" {
		t.Fatalf("serving %q, want first", got)
	}

	second := f.ca.Issue(t, "second", time.Time{}, time.Time{})
	second.Write(t, f.certFile, f.keyFile)
	if got := servedName(t, addr, pool); got != "first" {
		t.Fatalf("serving %q before the reload, want first", got)
	}
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedName(t, addr, pool); got != "second" {
		t.Fatalf("serving %q after the reload, want second", got)
	}
	if !strings.Contains(logs.String(), "CN=second") {
		t.Errorf("the reload's log does not name the new certificate:\n%s", logs)
	}

	third := f.ca.Issue(t, "third", time.Time{}, time.Time{})
	expired := f.ca.Issue(t, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	for _, tt := range []struct {
		name       string
		cert, key  []byte
		wantInLogs string
	}{
		{"mismatched pair", third.CertPEM, second.KeyPEM, "does not match"},
		{"expired pair", expired.CertPEM, expired.KeyPEM, "expired"},
		{"empty key file", third.CertPEM, nil, f.keyFile},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(f.certFile, tt.cert, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.keyFile, tt.key, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := srv.ReloadTLS(); err == nil {
				t.Fatal("the reload succeeded")
			}
			if got := servedName(t, addr, pool); got != "second" {
				t.Errorf("serving %q after a failed reload, want second still", got)
			}
			text := logs.String()
			if !strings.Contains(text, "TLS certificate reload failed") || !strings.Contains(text, tt.wantInLogs) {
				t.Errorf("no error logged saying %q:\n%s", tt.wantInLogs, text)
			}
			for _, k := range [][]byte{second.KeyPEM, third.KeyPEM, expired.KeyPEM} {
				if keyLeaked(text, k) {
					t.Errorf("the log quotes key material:\n%s", text)
				}
			}
		})
	}
}
