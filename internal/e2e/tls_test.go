package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/testcert"
)

// tlsNode is a node serving HTTPS with a certificate pair made by the test, trusted through ca.
type tlsNode struct {
	*node
	ca                *testcert.CA
	pool              *x509.CertPool
	certFile, keyFile string
}

func startTLSNode(t *testing.T, name string) *tlsNode {
	t.Helper()
	dir := t.TempDir()
	n := &tlsNode{ca: testcert.NewCA(t, "latchkey e2e CA"), pool: x509.NewCertPool(),
		certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	n.pool.AddCert(n.ca.Cert)
	n.ca.Issue(t, "first", time.Time{}, time.Time{}).Write(t, n.certFile, n.keyFile)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.pool}}}
	n.node = startServing(t, binary(t), name, "https", client,
		"--socket.ssl_certificate", n.certFile, "--socket.ssl_private_key", n.keyFile)
	return n
}

func (n *tlsNode) addr() string { return n.url[len("https://"):] }

// servedName is the common name of the certificate a new connection gets.
func (n *tlsNode) servedName(t *testing.T) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", n.addr(), &tls.Config{RootCAs: n.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLS: the release binary with socket.ssl_certificate serves HTTPS only and takes a new certificate
// on SIGHUP, without ending.
func TestTLS(t *testing.T) {
	n := startTLSNode(t, "tls")

	t.Run("HTTPS login", func(t *testing.T) {
		p := n.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"e2e-tls-device-01"}`).pair(t)
		n.must("GET", "/v2/account", "bearer:"+p.Token, "").wantStatus(t, http.StatusOK)
	})

	t.Run("plain HTTP is told to use HTTPS", func(t *testing.T) {
		got := string(testcert.PlainHTTPAnswer(t, n.addr()))
		if !strings.HasPrefix(got, "HTTP/1.0 400 ") || !strings.HasSuffix(got, "\r\n\r\nClient sent an HTTP request to an HTTPS server.\n") {
			t.Fatalf("plain HTTP got %q, want a 400 saying to use HTTPS, then the connection closed", got)
		}
	})

	t.Run("SIGHUP reloads the certificate", func(t *testing.T) {
		if got := n.servedName(t); got != "first" {
			t.Fatalf("serving %q, want first", got)
		}
		n.ca.Issue(t, "second", time.Time{}, time.Time{}).Write(t, n.certFile, n.keyFile)
		if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case <-n.done:
				t.Fatal("the server ended on SIGHUP")
			case <-time.After(20 * time.Millisecond):
			}
			if n.servedName(t) == "second" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("new connections still get the first certificate 10 s after SIGHUP")
			}
		}
		n.must("GET", "/healthcheck", "", "").wantStatus(t, http.StatusOK)
	})
}

// TestTLSNakamaJS runs compat/tls/smoke.mjs: the official nakama-js client authenticates, reads the
// account and refreshes over https, and opens a realtime socket over wss.
func TestTLSNakamaJS(t *testing.T) {
	n := startTLSNode(t, "tls-nakama-js")
	u, err := url.Parse(n.url)
	if err != nil {
		t.Fatal(err)
	}
	runNakamaJS(t, "tls", "smoke.mjs", "NODE_EXTRA_CA_CERTS="+n.ca.File,
		"LATCHKEY_HOST=localhost", "LATCHKEY_PORT="+u.Port(), "LATCHKEY_SERVER_KEY=defaultkey")
}

// skipUnlessNodeRequired skips the test, or fails it when LATCHKEY_TEST_NODE_REQUIRED is set (scripts/test
// sets it, so that a missing Node fails the run instead of passing it silently).
func skipUnlessNodeRequired(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("LATCHKEY_TEST_NODE_REQUIRED") != "" {
		t.Fatalf("%s, and LATCHKEY_TEST_NODE_REQUIRED is set", why)
	}
	t.Skip(why)
}
