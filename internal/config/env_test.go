package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestLoadValidReportsBoth: a value of the wrong type and a value out of range, from any source, are
// reported in one error, so that one run shows everything to fix; a key whose value could not be applied
// is not validated as well.
func TestLoadValidReportsBoth(t *testing.T) {
	file := writeFile(t, "c.yaml", `
socket:
  port: 99999
  max_request_size_bytes: many
logger:
  level: loud
`)
	args := []string{"--config", file, "--shutdown_grace_sec", "-3", "--socket.port", "x", "serve"}
	e := map[string]string{"LATCHKEY_AUTH_BCRYPT_COST": "high", "LATCHKEY_SESSION_TOKEN_EXPIRY_SEC": "0"}
	_, rest, err := LoadValid(args, env(e))
	got := problems(t, err)
	want := []string{
		// Load's problems first, in source order.
		`c.yaml:4:27: socket.max_request_size_bytes: want an integer, got "many"`,
		`LATCHKEY_AUTH_BCRYPT_COST: want an integer, got "high"`,
		`--socket.port: want an integer, got "x"`,
		// Then Validate's, without socket.port's range problem (99999 stayed from the file, the flag failed),
		// nor auth.bcrypt_cost's or socket.max_request_size_bytes'.
		"shutdown_grace_sec: must not be negative",
		"session.token_expiry_sec: ",
		"logger.level: must be debug, info, warn or error",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	// Validate's order is its own; each wanted problem must appear once.
	for _, w := range want {
		n := 0
		for _, g := range got {
			if strings.Contains(g, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d problems contain %q, want 1:\n%s", n, w, strings.Join(got, "\n"))
		}
	}
	if !reflect.DeepEqual(rest, []string{"serve"}) {
		t.Errorf("rest = %q, want [serve]", rest)
	}

	// With nothing wrong, nothing is reported.
	if _, _, err := LoadValid([]string{"--logger.level", "DEBUG"}, nil); err != nil {
		t.Errorf("LoadValid of a valid config = %v", err)
	}
}

func TestEnvWarnings(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"LATCHKEY_SESSION_TOKEN_EXPIRY_SEC=60",   // a key: no warning
		"LATCHKEY_VERIFIER_KEY=0123456789abcdef", // the verifier sidecar's: no warning
		"LATCHKEY_SESION_TOKEN_EXPIRY_SEC=60",
		"LATCHKEY_SERVER_KEY=s3cret-value",
		"LATCHKEY_CONSOLE_PORT=7351",
		"LATCHKEY_CONFIG=/etc/latchkey.yml",
		"LATCHKEY_ZZZ=1",
		"LATCHKEY_SESION_TOKEN_EXPIRY_SEC=61", // a repeat: one warning
		"OTHER_LATCHKEY_X=1",
	}
	got := EnvWarnings(environ)
	want := []string{
		"environment variable LATCHKEY_SESION_TOKEN_EXPIRY_SEC is ignored: no key has that name (did you mean LATCHKEY_SESSION_TOKEN_EXPIRY_SEC?)",
		"environment variable LATCHKEY_SERVER_KEY is ignored: no key has that name (did you mean LATCHKEY_SOCKET_SERVER_KEY?)",
		"environment variable LATCHKEY_CONSOLE_PORT is ignored: console is a Nakama setting Latchkey does not use",
		"environment variable LATCHKEY_CONFIG is ignored: config files are named with --config FILE",
		"environment variable LATCHKEY_ZZZ is ignored: no key has that name",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvWarnings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.Join(got, "\n"), "s3cret") {
		t.Error("a warning quotes a variable's value")
	}
	if got := EnvWarnings([]string{"LATCHKEY_DATA_DIR=/x", "HOME=/root"}); got != nil {
		t.Errorf("EnvWarnings of known variables = %q, want none", got)
	}
}
