package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/nakamaimport/nakamatest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"golang.org/x/crypto/bcrypt"
)

var nakamaAccounts = flag.Int("nakama-accounts", 0, "TestImportNakamaScale: generate this many Nakama accounts and time importing them (0 = skip)")

// TestImportNakama imports a Nakama database with the real binary, `latchkey import nakama --from URL`,
// into a fresh SQLite store, then starts a server on that store: the players sign in with their Nakama
// device id and their email and password (one hash at Nakama's bcrypt cost 13) and get their Nakama user
// ids.
func TestImportNakama(t *testing.T) {
	nakama := nakamatest.NewDatabase(t)
	const (
		deviceUser = "20000000-0000-4000-8000-000000000001"
		mailUser   = "20000000-0000-4000-8000-000000000002"
		slowUser   = "20000000-0000-4000-8000-000000000003"
	)
	cheap, err := bcrypt.GenerateFromPassword([]byte("cheap-password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	nakamaCost, err := bcrypt.GenerateFromPassword([]byte("nakama-password"), 13) // Nakama's bcrypt cost
	if err != nil {
		t.Fatal(err)
	}
	nakamatest.Exec(t, nakama, `INSERT INTO users (id, username) VALUES ($1, 'device_player')`, deviceUser)
	nakamatest.Exec(t, nakama, `INSERT INTO user_device (id, user_id) VALUES ('nakama-device-0001', $1)`, deviceUser)
	nakamatest.Exec(t, nakama, `INSERT INTO users (id, username, email, password) VALUES ($1, 'mail_player', 'mail@example.com', $2)`, mailUser, cheap)
	nakamatest.Exec(t, nakama, `INSERT INTO users (id, username, email, password) VALUES ($1, 'slow_player', 'slow@example.com', $2)`, slowUser, nakamaCost)

	dir := t.TempDir()
	r := runCLI(t, binary(t), "import", "nakama", "--from", nakama, "--data_dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "created 3, updated 0, unchanged 0, conflicts 0, skipped 1") {
		t.Fatalf("import = %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "opened SQLite database") {
		t.Errorf("import did not say which store it opened:\n%s", r.stderr)
	}
	again := runCLI(t, binary(t), "import", "nakama", "--from", nakama, "--data_dir", dir)
	if again.code != 0 || !strings.Contains(again.stdout, "created 0, updated 0, unchanged 3") {
		t.Errorf("second import = %d\n%s%s", again.code, again.stdout, again.stderr)
	}

	n := startNode(t, "imported", "--data_dir", dir)
	for _, c := range []struct{ path, body, uid string }{
		{"/v2/account/authenticate/device?create=false", `{"id":"nakama-device-0001"}`, deviceUser},
		{"/v2/account/authenticate/email?create=false", `{"email":"mail@example.com","password":"cheap-password"}`, mailUser},
		{"/v2/account/authenticate/email?create=false", `{"email":"slow@example.com","password":"nakama-password"}`, slowUser},
	} {
		p := n.must("POST", c.path, "basic", c.body).pair(t)
		if got := uidOf(t, p.Token); got != c.uid {
			t.Errorf("%s %s: uid %s, want %s", c.path, c.body, got, c.uid)
		}
	}
	n.must("POST", "/v2/account/authenticate/email?create=false", "basic",
		`{"email":"slow@example.com","password":"wrong-password"}`).wantStatus(t, 401)
}

// TestImportNakamaScale generates -nakama-accounts Nakama accounts and imports them with the binary into
// SQLite and into PostgreSQL, logging accounts per second and the import process's peak resident memory
// (docs/benchmarks.md). Run: go test ./internal/e2e -run TestImportNakamaScale -nakama-accounts 100000 -v
func TestImportNakamaScale(t *testing.T) {
	if *nakamaAccounts < 1 {
		t.Skip("-nakama-accounts not set")
	}
	nakama := nakamatest.NewDatabase(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("generated"), 4)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	nakamatest.Generate(t, nakama, *nakamaAccounts, hash)
	t.Logf("generated %d Nakama accounts in %v", *nakamaAccounts, time.Since(start).Round(time.Millisecond))
	for _, b := range []struct{ name, flag, value string }{
		{"sqlite", "--data_dir", t.TempDir()},
		{"postgres", "--database.address", pgtest.NewDatabase(t)},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), "import", "nakama", "--from", nakama, b.flag, b.value)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			began := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("import: %v\n%s%s", err, out.String(), errb.String())
			}
			took := time.Since(began)
			want := fmt.Sprintf("created %d,", *nakamaAccounts)
			if !strings.Contains(out.String(), want) {
				t.Fatalf("import output lacks %q:\n%s", want, out.String())
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
			t.Logf("%s: %d accounts in %v = %.0f accounts/s, peak RSS %.1f MiB", b.name, *nakamaAccounts,
				took.Round(time.Millisecond), float64(*nakamaAccounts)/took.Seconds(), float64(rss)/1024)
		})
	}
}
