// Package servertest starts real Latchkey servers for tests and talks to them over HTTP; it is imported
// only by tests.
package servertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/sessions"
)

// Config returns the default configuration with a fresh SQLite directory that the test removes when it
// ends, and the cheapest bcrypt cost, so that creating accounts does not slow the tests down.
func Config(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Auth.BcryptCost = 4
	return cfg
}

// Start starts a server with cfg and opts behind an httptest server and returns it with its base URL, such
// as http://127.0.0.1:PORT; both are closed when the test ends. A server that does not start fails the test.
func Start(t testing.TB, cfg config.Config, opts server.Options) (*server.Server, string) {
	t.Helper()
	srv, err := server.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.API)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return srv, hs.URL
}

// Run runs srv as `latchkey serve` does, server.Serve on a loopback listener of its own, until the test
// ends, and returns its base URL, such as http://127.0.0.1:PORT, and the function that tells Serve to stop
// (it then drains). Register srv.Close before calling Run, so that the store closes after Serve returns.
func Run(t testing.TB, srv *server.Server) (baseURL string, stop context.CancelFunc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), cancel
}

// FreePort returns a loopback TCP port that was free a moment ago, for a listener the server binds itself
// from its config.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Token creates the device account deviceID on srv directly, without HTTP, and returns a session token for
// it, for benchmarks that leave sign-in out of what they measure.
func Token(t testing.TB, srv *server.Server, deviceID string) string {
	t.Helper()
	res, err := srv.Accounts.AuthenticateDevice(context.Background(), deviceID, "", true)
	if err != nil {
		t.Fatal(err)
	}
	is, err := srv.Sessions.Issue(context.Background(), res.User, nil, sessions.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return is.Token
}

// Serve sends one request straight to h, without a listener, with the Authorization header auth, and
// returns the recorded response, so that benchmarks measure the handler and not the network.
func Serve(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Answer is an HTTP response, read whole.
type Answer struct {
	Status      int
	ContentType string
	Body        string
	// JSON is Body decoded, or nil when Body is not a JSON object.
	JSON map[string]any
}

// Do sends a request to baseURL+path with the Authorization header auth (none if empty) and the header
// name, value pairs, and returns the answer; a request that gets no answer fails the test.
func Do(t testing.TB, baseURL, method, path, auth, body string, header ...string) Answer {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := Answer{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: string(b)}
	json.Unmarshal(b, &a.JSON)
	return a
}

// WantError reports an error unless the answer has the HTTP status and Nakama's error body with the code
// and, when msg is not empty, the message.
func (a Answer) WantError(t testing.TB, status int, code float64, msg string) {
	t.Helper()
	if a.Status != status || a.JSON["code"] != code || (msg != "" && a.JSON["message"] != msg) {
		t.Errorf("got %d %s, want %d code %v %q", a.Status, a.Body, status, code, msg)
	}
}

// Basic is an Authorization header with user as the Basic user and no password, as clients send the
// server key or the HTTP key.
func Basic(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"))
}

// Authenticate signs in at baseURL with a custom or device id (kind "custom" or "device") and the default
// server key, creating the account with the username "u" and the id without its dashes and the session
// with vars, and returns the session token. Any answer but 200 fails the test.
func Authenticate(t testing.TB, baseURL, kind, id string, vars map[string]string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": id, "vars": vars})
	a := Do(t, baseURL, "POST", "/v2/account/authenticate/"+kind+"?username=u"+strings.ReplaceAll(id, "-", ""),
		Basic("defaultkey"), string(body))
	token, _ := a.JSON["token"].(string)
	if a.Status != http.StatusOK || token == "" {
		t.Fatalf("authenticate %s %s: %d %s", kind, id, a.Status, a.Body)
	}
	return token
}

// Claims decodes a session or refresh token's payload without verifying it, as clients do.
func Claims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// LogBuffer collects a server's log for a test: the server's goroutines write it while the test reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
