package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/latchkeyhq/latchkey/internal/nakamaimport/nakamatest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"golang.org/x/crypto/bcrypt"
)

var nakamaAccounts = flag.Int("nakama-accounts", 0, "TestImportNakamaScale: generate this many Nakama accounts and time importing them (0 = skip)")

// TestImportNakama imports a Nakama database with the real binary, `latchkey import nakama --from URL`,
// into a fresh SQLite store and into a fresh PostgreSQL store, then starts a server on each store with
// session.adopt_nakama_refresh_tokens: the players sign in with their Nakama device id, their email and
// password (one hash at Nakama's bcrypt cost 13) and their custom id and get their Nakama user ids, over
// plain HTTP and with the official nakama-js client (compat/nakama-import/cutover.mjs), which also
// refreshes a session Nakama issued (a token pair signed here as Nakama signs it) into a Latchkey session.
func TestImportNakama(t *testing.T) {
	nakama := nakamatest.NewDatabase(t)
	const (
		deviceUser = "20000000-0000-4000-8000-000000000001"
		mailUser   = "20000000-0000-4000-8000-000000000002"
		slowUser   = "20000000-0000-4000-8000-000000000003"
		customUser = "20000000-0000-4000-8000-000000000004"
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
	nakamatest.Exec(t, nakama, `INSERT INTO users (id, username, custom_id) VALUES ($1, 'custom_player', 'nakama-custom-0001')`, customUser)

	// The keys the Nakama server had, configured on Latchkey for the cut-over.
	const sessionKey, refreshKey = "e2e-nakama-session-key-0123456789abcdef", "e2e-nakama-refresh-key-0123456789abcdef"
	for _, b := range []struct{ name, flag, value, opened string }{
		{"sqlite", "--data_dir", t.TempDir(), "opened SQLite database"},
		{"postgres", "--database.address", pgtest.NewDatabase(t), "opened PostgreSQL database"},
	} {
		t.Run(b.name, func(t *testing.T) {
			r := runCLI(t, binary(t), "import", "nakama", "--from", nakama, b.flag, b.value)
			if r.code != 0 || !strings.Contains(r.stdout, "created 4, updated 0, unchanged 0, conflicts 0, skipped 1") {
				t.Fatalf("import = %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, b.opened) {
				t.Errorf("import did not say which store it opened (%q):\n%s", b.opened, r.stderr)
			}
			again := runCLI(t, binary(t), "import", "nakama", "--from", nakama, b.flag, b.value)
			if again.code != 0 || !strings.Contains(again.stdout, "created 0, updated 0, unchanged 4") {
				t.Errorf("second import = %d\n%s%s", again.code, again.stdout, again.stderr)
			}

			n := startNode(t, "imported-"+b.name, b.flag, b.value, "--session.adopt_nakama_refresh_tokens", "true",
				"--session.encryption_key", sessionKey, "--session.refresh_encryption_key", refreshKey)
			for _, c := range []struct{ path, body, uid string }{
				{"/v2/account/authenticate/device?create=false", `{"id":"nakama-device-0001"}`, deviceUser},
				{"/v2/account/authenticate/email?create=false", `{"email":"mail@example.com","password":"cheap-password"}`, mailUser},
				{"/v2/account/authenticate/email?create=false", `{"email":"slow@example.com","password":"nakama-password"}`, slowUser},
				{"/v2/account/authenticate/custom?create=false", `{"id":"nakama-custom-0001"}`, customUser},
			} {
				p := n.must("POST", c.path, "basic", c.body).pair(t)
				if got := uidOf(t, p.Token); got != c.uid {
					t.Errorf("%s %s: uid %s, want %s", c.path, c.body, got, c.uid)
				}
			}
			n.must("POST", "/v2/account/authenticate/email?create=false", "basic",
				`{"email":"slow@example.com","password":"wrong-password"}`).wantStatus(t, 401)

			token, refresh := nakamaSession(sessionKey, refreshKey, deviceUser, "device_player", time.Now())
			runNakamaJS(t, "nakama-import", "cutover.mjs", "LATCHKEY_PORT="+n.url[strings.LastIndex(n.url, ":")+1:],
				"NAKAMA_DEVICE_ID=nakama-device-0001", "NAKAMA_DEVICE_USER="+deviceUser,
				"NAKAMA_EMAIL=slow@example.com", "NAKAMA_PASSWORD=nakama-password", "NAKAMA_EMAIL_USER="+slowUser,
				"NAKAMA_CUSTOM_ID=nakama-custom-0001", "NAKAMA_CUSTOM_USER="+customUser,
				"NAKAMA_TOKEN="+token, "NAKAMA_REFRESH_TOKEN="+refresh, "NAKAMA_TOKEN_USER="+deviceUser)
		})
	}
}

// nakamaSession signs a session token and a refresh token as a Nakama server does for a login of userID at
// now (server/api_authenticate.go, generateToken): header {"alg":"HS256","typ":"JWT"}, HMAC-SHA256 with the
// raw key strings, the same claims in Nakama's order (tid a new UUID v4, uid, usn, vrs, iat; no sid or
// gen) and each token's own exp, an hour for the session token and a day for the refresh token. Nakama
// omits vrs when the login carried no vars; this one carries one, which the refresh must keep.
func nakamaSession(sessionKey, refreshKey, userID, username string, now time.Time) (token, refresh string) {
	tid := uuid.NewString() // the same session id in both tokens
	sign := func(key string, exp time.Time) string {
		enc := base64.RawURLEncoding
		payload := fmt.Sprintf(`{"tid":%q,"uid":%q,"usn":%q,"vrs":{"platform":"e2e"},"exp":%d,"iat":%d}`,
			tid, userID, username, exp.Unix(), now.Unix())
		in := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(in))
		return in + "." + enc.EncodeToString(m.Sum(nil))
	}
	return sign(sessionKey, now.Add(time.Hour)), sign(refreshKey, now.Add(24*time.Hour))
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
