// Package examplesrv starts an example's server in-process for its tests.
package examplesrv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Start runs a complete Latchkey server with the module on a free loopback port, on a fresh SQLite database,
// until the test ends (then it checks the server stopped cleanly), and returns its base URL. flags are
// extra command-line flags, as for the latchkey binary.
func Start(t testing.TB, module runtime.InitModule, flags ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	var out lockedBuffer
	app := latchkey.New(latchkey.Options{
		Modules: []runtime.InitModule{module}, Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" },
	})
	args := append([]string{"serve", "--socket.address", "127.0.0.1", "--socket.port", port,
		"--data_dir", t.TempDir(), "--auth.bcrypt_cost", "4", "--logger.level", "warn"}, flags...)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- app.Main(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("server exited with %d:\n%s", code, out.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop within 10 s")
		}
	})

	base := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-exited:
			exited <- code
			t.Fatalf("server exited with %d before serving:\n%s", code, out.String())
		default:
		}
		if resp, err := http.Get(base + "/healthcheck"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
	}
	t.Fatalf("server not healthy within 10 s:\n%s", out.String())
	return ""
}

// lockedBuffer collects the server's output, which it writes from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// DecodePayload decodes a token's payload into v without checking the token; the server checks it when
// the token is used.
func DecodePayload(t testing.TB, token string, v any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
}
