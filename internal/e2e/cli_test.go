package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// cliRun is one finished run of a command.
type cliRun struct {
	code           int
	stdout, stderr string
}

// runCLI runs bin with args, configured by flags only, and waits for it, bounded: a command that should
// have failed but went on serving is killed.
func runCLI(t *testing.T, bin string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within 30 s:\n%s", bin, args, errb.String())
	}
	return cliRun{code, out.String(), errb.String()}
}

// TestCLIVersionStamped: the -X names a release stamps (see version.go) reach 'latchkey version',
// '--version' and '-v'. The binary is built here, with the flags, whatever LATCHKEY_TEST_BIN names.
func TestCLIVersionStamped(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "latchkey")
	const pkg = "github.com/latchkeyhq/latchkey"
	ldflags := fmt.Sprintf("-X %[1]s.Version=v0.3.0-e2e -X %[1]s.Commit=abc1234 -X %[1]s.Date=2026-11-30T05:00:00Z", pkg)
	build := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, pkg+"/cmd/latchkey")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := fmt.Sprintf("latchkey v0.3.0-e2e (commit abc1234, built 2026-11-30T05:00:00Z, %s %s/%s)\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, arg := range []string{"version", "--version", "-v"} {
		if r := runCLI(t, bin, arg); r.code != 0 || r.stdout != want {
			t.Errorf("latchkey %s = %d, %q, %q; want %q", arg, r.code, r.stdout, r.stderr, want)
		}
	}
}

// TestCLIOneServerPerDataDir: a second server on a serving node's data_dir is refused with a message
// naming the directory and PostgreSQL, while an admin command works beside the node; once the node is
// killed (SIGKILL: no clean exit), its lock file does not keep the next server from starting.
func TestCLIOneServerPerDataDir(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	a := startNode(t, "a", "--data_dir", dir)

	r := runCLI(t, bin, "--socket.address", "127.0.0.1", "--socket.port", fmt.Sprint(freePort(t)), "--data_dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, "database.address") {
		t.Errorf("second server on the data_dir = %d, want 1 naming %s and database.address:\n%s", r.code, dir, r.stderr)
	}

	r = runCLI(t, bin, "sessions", "list", "--user", "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f", "--data_dir", dir)
	if r.code != 0 || !strings.Contains(r.stderr, "opened SQLite database "+filepath.Join(dir, "latchkey.db")) {
		t.Errorf("admin command beside the node = %d:\n%s", r.code, r.stderr)
	}

	a.cmd.Process.Kill()
	<-a.done
	if _, err := os.Stat(filepath.Join(dir, "latchkey.lock")); err != nil {
		t.Fatalf("the killed node left no lock file (%v); the test would prove nothing", err)
	}
	startNode(t, "b", "--data_dir", dir)
}

// TestCLIPortTakenTouchesNothing: a server whose port is taken stops before it creates, opens or migrates
// a store.
func TestCLIPortTakenTouchesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(t, binary(t), "--socket.address", "127.0.0.1", "--socket.port", fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), "--data_dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "listen on") {
		t.Errorf("serve on a taken port = %d, want 1 with 'listen on':\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve on a taken port created %s (%v)", dir, err)
	}
}

// TestCLIHealthcheck: the healthcheck command exits 0 while the node answers, and 1, in one line, once it
// has stopped.
func TestCLIHealthcheck(t *testing.T) {
	bin := binary(t)
	n := startNode(t, "h")
	port := n.url[strings.LastIndex(n.url, ":")+1:]
	if r := runCLI(t, bin, "healthcheck", "--socket.port", port); r.code != 0 {
		t.Errorf("healthcheck of a serving node = %d:\n%s", r.code, r.stderr)
	}
	n.stop()
	r := runCLI(t, bin, "healthcheck", "--socket.port", port)
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("healthcheck of a stopped node = %d, %q; want 1 and one line", r.code, r.stderr)
	}
}

// TestCLIAdminCreatesNothing: admin commands run where there is no database fail, say how to create one,
// and create nothing.
func TestCLIAdminCreatesNothing(t *testing.T) {
	bin := binary(t)
	for _, args := range [][]string{
		{"users"},
		{"users", "ban", "8c2f3b1e-5d4a-4e7b-9f60-1a2b3c4d5e6f"},
		{"migrate", "bogus"},
		{"migrate", "status"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		r := runCLI(t, bin, append(args, "--data_dir", dir)...)
		if r.code == 0 || !(strings.Contains(r.stderr, "Usage:") || strings.Contains(r.stderr, "latchkey migrate up")) {
			t.Errorf("latchkey %q = %d, want a failure with the usage or how to create a database:\n%s", args, r.code, r.stderr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("latchkey %q created %s (%v)", args, dir, err)
		}
	}
}
