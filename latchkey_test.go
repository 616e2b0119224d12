package latchkey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// result is one run of the program.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the program with args in an environment of environ only, so that the test's own LATCHKEY_
// variables do not leak in. A serve that should have failed but started is stopped after a while.
func run(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	var out, errb servertest.LogBuffer
	if environ == nil {
		environ = []string{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code := New(Options{Stdout: &out, Stderr: &errb, Environ: environ}).Main(ctx, args)
	return result{code, out.String(), errb.String()}
}

// common are the flags every test's commands take: a cheap bcrypt cost and loopback only.
func common(dataDir string, port int) []string {
	return []string{"--data_dir", dataDir, "--socket.address", "127.0.0.1", "--socket.port", fmt.Sprint(port),
		"--auth.bcrypt_cost", "4"}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serving is an App running serve in this process.
type serving struct {
	stderr *servertest.LogBuffer
	stop   func() int // cancels serve and returns its exit code
}

// startServe runs serve with args and waits, bounded, until it answers /healthcheck on port.
func startServe(t *testing.T, environ []string, port int, args ...string) *serving {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthcheck", port)
	return startCommand(t, environ, url, http.StatusOK, append([]string{"serve"}, args...)...)
}

// startCommand runs the command line args in this process and waits, bounded, until GET url answers
// status (any status when 0). It is stopped at cleanup.
func startCommand(t *testing.T, environ []string, url string, status int, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stderr: &servertest.LogBuffer{}}
	code := make(chan int, 1)
	app := New(Options{Stdout: io.Discard, Stderr: s.stderr, Environ: environ})
	go func() { code <- app.Main(ctx, args) }()
	var once sync.Once
	exit := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(20 * time.Second):
				t.Errorf("%s did not stop", args[0])
			}
		})
		return exit
	}
	t.Cleanup(func() { s.stop() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case c := <-code:
			t.Fatalf("%s exited with %d during start:\n%s", args[0], c, s.stderr)
		default:
		}
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if status == 0 || res.StatusCode == status {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 20 s:\n%s", args[0], s.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	defer func(v, c, d string) { Version, Commit, Date = v, c, d }(Version, Commit, Date)
	Version, Commit, Date = "v0.3.0", "abc1234", "2026-11-30T05:00:00Z"
	want := fmt.Sprintf("latchkey v0.3.0 (commit abc1234, built 2026-11-30T05:00:00Z, %s %s/%s)\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, arg := range []string{"version", "--version", "-version", "-v"} {
		r := run(t, nil, arg)
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("latchkey %s = %d, %q, %q; want 0, %q", arg, r.code, r.stdout, r.stderr, want)
		}
	}
}

// TestBuildFallback: what the release did not stamp comes from the build information, and only Latchkey's
// own: a studio's binary records the studio's commit, which is not Latchkey's.
func TestBuildFallback(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-29T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	main := debug.Module{Path: modulePath, Version: "(devel)"}
	studio := debug.Module{Path: "example.com/game", Version: "v1.0.0"}
	dep := &debug.Module{Path: modulePath, Version: "v0.3.0"}
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  build
	}{
		{"git checkout", "", "", "", &debug.BuildInfo{Main: main, Settings: vcs},
			build{"dev", "0123456-dirty", "2026-11-29T10:00:00Z"}},
		{"go install @version", "", "", "", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.3.0"}},
			build{"v0.3.0", "unknown", "unknown"}},
		{"studio binary", "", "", "", &debug.BuildInfo{Main: studio, Deps: []*debug.Module{dep}, Settings: vcs},
			build{"v0.3.0", "unknown", "unknown"}},
		{"studio binary, replaced", "", "", "", &debug.BuildInfo{Main: studio, Deps: []*debug.Module{
			{Path: modulePath, Version: "v0.2.0", Replace: &debug.Module{Path: modulePath, Version: "v0.3.1"}}}},
			build{"v0.3.1", "unknown", "unknown"}},
		{"stamped wins", "v9.9.9", "fedcba9", "2030-01-01T00:00:00Z", &debug.BuildInfo{Main: main, Settings: vcs},
			build{"v9.9.9", "fedcba9", "2030-01-01T00:00:00Z"}},
		{"no build information", "", "", "", nil, build{"dev", "unknown", "unknown"}},
	} {
		if got := buildOf(tc.version, tc.commit, tc.date, tc.info, tc.info != nil); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestHelpListsEveryCommand: 'latchkey --help' and 'latchkey help' list every command with its arguments
// and flags, and each command has its own help.
func TestHelpListsEveryCommand(t *testing.T) {
	commands := []string{"serve", "migrate", "users", "sessions", "healthcheck", "verifier", "version", "help"}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("latchkey %q = %d", args, r.code)
		}
		for _, want := range []string{
			"latchkey [serve] [flags]", "latchkey migrate up|down [N|all]|status",
			"latchkey users ban|unban|delete USER_ID [--reason TEXT]",
			"latchkey sessions list|events --user USER_ID [--limit N]", "latchkey healthcheck [flags]",
			"latchkey version | --version | -v", "latchkey help [COMMAND | config]", "--config FILE",
			"latchkey verifier --latchkey URL --audience AUDIENCE",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("latchkey %q does not list %q:\n%s", args, want, r.stdout)
			}
		}
	}
	for _, cmd := range commands {
		for _, args := range [][]string{{"help", cmd}, {cmd, "--help"}} {
			r := run(t, nil, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: latchkey") || !strings.Contains(r.stdout, cmd) {
				t.Errorf("latchkey %q = %d:\n%s%s", args, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// TestConfigProblemsTogether: a value of the wrong type and values out of range are reported in one run.
func TestConfigProblemsTogether(t *testing.T) {
	r := run(t, nil, "migrate", "status", "--socket.port", "x", "--shutdown_grace_sec", "-1", "--logger.level", "loud")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{`--socket.port: want an integer, got "x"`, "shutdown_grace_sec: must not be negative", "logger.level:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestAdminCommandsCreateNothing: the admin commands, and migrate other than up, never create a database:
// on a data_dir without one they fail, with a message saying how to create one (or, for a command line
// without an action, with the usage, before opening anything), and leave no file behind.
func TestAdminCommandsCreateNothing(t *testing.T) {
	const user = "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"users"}, 2, "Usage: latchkey users"},
		{[]string{"users", "frobnicate", user}, 2, "Usage: latchkey users"},
		{[]string{"migrate"}, 2, "Usage: latchkey migrate"},
		{[]string{"migrate", "bogus"}, 2, `unknown action "bogus"`},
		{[]string{"migrate", "down", "zero"}, 2, "Usage: latchkey migrate"},
		{[]string{"sessions", "list"}, 2, "--user USER_ID is required"},
		{[]string{"sessions", "--user", user}, 2, "Usage: latchkey sessions"},
		{[]string{"users", "ban", user}, 1, "latchkey migrate up"},
		{[]string{"sessions", "list", "--user", user}, 1, "latchkey migrate up"},
		{[]string{"migrate", "status"}, 1, "latchkey migrate up"},
		{[]string{"migrate", "down"}, 1, "latchkey migrate up"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		r := run(t, nil, append(tc.args, "--data_dir", dir)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("latchkey %q = %d, want %d with %q:\n%s", tc.args, r.code, tc.code, tc.want, r.stderr)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("latchkey %q created %s (%v)", tc.args, dir, err)
		}
	}
}

// TestCommandsSayWhatTheyOpened: each command that opens the store says which, on standard error, and warns
// about a misspelt LATCHKEY_ variable with the one it probably meant.
func TestCommandsSayWhatTheyOpened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	abs, _ := filepath.Abs(filepath.Join(dir, "latchkey.db"))
	opened := "latchkey: opened SQLite database " + abs
	environ := []string{"LATCHKEY_DATA_DIR=" + dir, "LATCHKEY_SESION_TOKEN_EXPIRY_SEC=60"}
	const warning = "LATCHKEY_SESION_TOKEN_EXPIRY_SEC is ignored: no key has that name (did you mean LATCHKEY_SESSION_TOKEN_EXPIRY_SEC?)"
	for _, args := range [][]string{
		{"migrate", "up"},
		{"migrate", "status"},
		{"sessions", "events", "--user", "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f"},
		{"users", "unban", "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f"},
	} {
		r := run(t, environ, args...)
		if !strings.Contains(r.stderr, opened) || !strings.Contains(r.stderr, warning) {
			t.Errorf("latchkey %q = %d; stderr lacks %q or the warning:\n%s", args, r.code, opened, r.stderr)
		}
	}
}

// TestServe: serve logs JSON lines as configured, to the console and the file, warns about a misspelt
// variable; the healthcheck command finds it healthy; a second server on its data_dir is refused, naming
// the directory and PostgreSQL, while an admin command works beside it; a server on its taken port stops
// before creating a store.
func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	logFile := filepath.Join(t.TempDir(), "log", "latchkey.log")
	port := freePort(t)
	environ := []string{"LATCHKEY_LOGGER_FORMAT=JSON", "LATCHKEY_SOCKET_SERVERKEY=x"}
	s := startServe(t, environ, port, append(common(dir, port), "--name", "node-7", "--logger.file", logFile)...)

	if r := run(t, nil, "healthcheck", "--socket.port", fmt.Sprint(port)); r.code != 0 || !strings.Contains(r.stdout, "healthy") {
		t.Errorf("healthcheck of a serving node = %d, %q, %q", r.code, r.stdout, r.stderr)
	}

	r := run(t, nil, append([]string{"serve"}, common(dir, freePort(t))...)...)
	abs, _ := filepath.Abs(dir)
	if r.code != 1 || !strings.Contains(r.stderr, abs) || !strings.Contains(r.stderr, "database.address") {
		t.Errorf("second serve on the data_dir = %d, want 1 naming %s and database.address:\n%s", r.code, abs, r.stderr)
	}
	if r := run(t, nil, "sessions", "list", "--user", "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f", "--data_dir", dir); r.code != 0 {
		t.Errorf("an admin command beside the server = %d:\n%s", r.code, r.stderr)
	}

	other := filepath.Join(t.TempDir(), "other")
	r = run(t, nil, append([]string{"serve"}, common(other, port)...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "listen on") {
		t.Errorf("serve on a taken port = %d, want 1 with 'listen on':\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("serve on a taken port created %s (%v)", other, err)
	}

	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d:\n%s", code, s.stderr)
	}
	file, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if file := string(file); file != s.stderr.String() {
		t.Errorf("the log file and the console differ:\nfile:\n%s\nconsole:\n%s", file, s.stderr)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(file)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["node"] != "node-7" || m["level"] == nil {
			t.Errorf("log line %q lacks node node-7 or its level", line)
		}
		msgs = append(msgs, fmt.Sprint(m["msg"]))
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"LATCHKEY_SOCKET_SERVERKEY is ignored", "listening", "shutting down"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log lacks %q:\n%s", want, all)
		}
	}

	// Once stopped, the data_dir is free again.
	port = freePort(t)
	startServe(t, nil, port, common(dir, port)...).stop()
}

// TestHealthcheck: the command fails, exit 1 in one line, when nothing answers or the answer is not 200;
// over HTTPS it accepts the certificate of socket.ssl_certificate even though the loopback address is not
// among its names, and no other.
func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	r := run(t, nil, "healthcheck", "--socket.port", fmt.Sprint(freePort(t)))
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "unhealthy") {
		t.Errorf("healthcheck with nothing listening = %d, %q; want 1 and one line", r.code, r.stderr)
	}
	r = run(t, nil, "healthcheck", "--socket.port", "0")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("healthcheck with an invalid config = %d, %q; want 1 and one line", r.code, r.stderr)
	}

	status := http.StatusServiceUnavailable
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthcheck" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte("{}"))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	r = run(t, nil, "healthcheck", "--socket.port", port(plain.URL))
	if r.code != 1 || !strings.Contains(r.stderr, "503") {
		t.Errorf("healthcheck of a 503 = %d, %q", r.code, r.stderr)
	}
	status = http.StatusOK
	if r := run(t, nil, "healthcheck", "--socket.port", port(plain.URL)); r.code != 0 {
		t.Errorf("healthcheck of a 200 = %d, %q", r.code, r.stderr)
	}

	served := certFiles(t, dir, "served")
	secure := httptest.NewUnstartedServer(handler)
	cert, err := tls.LoadX509KeyPair(served[0], served[1])
	if err != nil {
		t.Fatal(err)
	}
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.StartTLS()
	defer secure.Close()
	tlsArgs := func(pair [2]string) []string {
		return []string{"healthcheck", "--socket.port", port(secure.URL), "--socket.ssl_certificate", pair[0], "--socket.ssl_private_key", pair[1]}
	}
	if r := run(t, nil, tlsArgs(served)...); r.code != 0 || !strings.Contains(r.stdout, "https://127.0.0.1:") {
		t.Errorf("healthcheck over HTTPS = %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, tlsArgs(certFiles(t, dir, "other"))...)
	if r.code != 1 || !strings.Contains(r.stderr, "another certificate than socket.ssl_certificate") {
		t.Errorf("healthcheck of a server with another certificate = %d, %q", r.code, r.stderr)
	}
	if r := run(t, nil, "healthcheck", "--socket.port", port(secure.URL)); r.code != 1 {
		t.Errorf("plain healthcheck of an HTTPS server = %d, want 1", r.code)
	}
}

func port(url string) string { return url[strings.LastIndex(url, ":")+1:] }

// certFiles writes a self-signed certificate for example.com and its key to dir, and returns their paths.
func certFiles(t *testing.T, dir, name string) [2]string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	paths := [2]string{filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")}
	for i, b := range []*pem.Block{{Type: "CERTIFICATE", Bytes: der}, {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(paths[i], pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}
