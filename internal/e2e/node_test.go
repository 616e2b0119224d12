// Package e2e runs the real latchkey binary as separate processes on loopback ports and drives them over
// HTTP: several nodes on one PostgreSQL database, and a node whose database connection is cut.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built caches the binaries built for this test process, by package.
var built sync.Map // package path -> func() (string, error)

// binary returns the latchkey binary under test: $LATCHKEY_TEST_BIN (scripts/test builds it without cgo),
// or one built once for this test process.
func binary(t *testing.T) string {
	t.Helper()
	return binaryOf(t, "LATCHKEY_TEST_BIN", "github.com/latchkeyhq/latchkey/cmd/latchkey")
}

// testServerBinary returns latchkey-testserver, the server with the test module compiled in:
// $LATCHKEY_TEST_RT_BIN, or one built once for this test process.
func testServerBinary(t *testing.T) string {
	t.Helper()
	return binaryOf(t, "LATCHKEY_TEST_RT_BIN", "github.com/latchkeyhq/latchkey/internal/cmd/latchkey-testserver")
}

func binaryOf(t *testing.T, env, pkg string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	build, _ := built.LoadOrStore(pkg, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "latchkey-e2e-bin-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return bin, nil
	}))
	bin, err := build.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// node is one running latchkey process.
type node struct {
	t    *testing.T
	name string
	url  string
	cmd  *exec.Cmd
	done chan struct{}

	// client reaches the node's client port (over TLS for an https url).
	client *http.Client
}

// startNode starts latchkey with the given extra flags on a free loopback port and waits until it answers
// /healthcheck. It is stopped (SIGTERM, then SIGKILL) at cleanup, and its log is printed if the test failed.
func startNode(t *testing.T, name string, args ...string) *node {
	t.Helper()
	return startBinary(t, binary(t), name, args...)
}

// startBinary is startNode with another server binary (same flags).
func startBinary(t *testing.T, bin, name string, args ...string) *node {
	t.Helper()
	return startServing(t, bin, name, "http", httpClient, args...)
}

// startServing is startBinary for a node whose client port speaks scheme (http, or https when args
// configure TLS) and is reached through client.
func startServing(t *testing.T, bin, name, scheme string, client *http.Client, args ...string) *node {
	t.Helper()
	port := freePort(t)
	all := append([]string{
		"--name", name, "--socket.address", "127.0.0.1", "--socket.port", fmt.Sprint(port),
		"--data_dir", t.TempDir(), "--auth.bcrypt_cost", "4", "--logger.level", "info",
	}, args...)
	cmd := exec.Command(bin, all...)
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, &out}
	cmd.Stderr = lockedWriter{&mu, &out}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // configuration from flags only
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, name: name, url: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), client: client, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			mu.Lock()
			t.Logf("----- %s log -----\n%s", name, out.String())
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-n.done:
			t.Fatalf("%s exited during start", name) // the cleanup prints its log
		default:
		}
		res, err := client.Get(n.url + "/healthcheck")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy within 20 s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (n *node) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("%s did not stop within 10 s of SIGTERM", n.name)
	}
}

// reply is an HTTP answer with its JSON body decoded.
type reply struct {
	Status int
	Body   map[string]any
	Raw    string
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// call sends a request; auth is "basic" (the default server key), "bearer:TOKEN" or "".
func (n *node) call(ctx context.Context, method, path, auth, body string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, n.url+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	switch {
	case auth == "basic":
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("defaultkey:")))
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	}
	res, err := n.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{Status: res.StatusCode, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return r, fmt.Errorf("%s %s: answer is not a JSON object: %q", method, path, raw)
		}
	}
	return r, nil
}

// must is call for requests that must get an answer.
func (n *node) must(method, path, auth, body string) reply {
	n.t.Helper()
	r, err := n.call(context.Background(), method, path, auth, body)
	if err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	return r
}

type tokenPair struct{ Token, Refresh string }

func (r reply) pair(t *testing.T) tokenPair {
	t.Helper()
	tok, _ := r.Body["token"].(string)
	ref, _ := r.Body["refresh_token"].(string)
	if r.Status != http.StatusOK || tok == "" || ref == "" {
		t.Fatalf("want a token pair, got %d %s", r.Status, r.Raw)
	}
	return tokenPair{tok, ref}
}

func (r reply) wantCode(t *testing.T, status int, code float64) {
	t.Helper()
	if r.Status != status || r.Body["code"] != code {
		t.Fatalf("got %d %s, want %d with code %v", r.Status, r.Raw, status, code)
	}
}

func (r reply) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d %s, want %d", r.Status, r.Raw, status)
	}
}
