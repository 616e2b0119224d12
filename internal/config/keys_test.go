package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestEveryKeyHasADescription(t *testing.T) {
	keys := Keys()
	names := map[string]bool{}
	for _, k := range keys {
		names[k.Name] = true
		if strings.TrimSpace(k.Description) == "" {
			t.Errorf("key %s has no description; add one to descriptions in keys.go", k.Name)
		}
		if strings.Contains(k.Description, "\n") {
			t.Errorf("key %s: description is more than one line", k.Name)
		}
	}
	for name := range descriptions {
		if !names[name] {
			t.Errorf("descriptions has %q, which is not a key", name)
		}
	}
}

func TestKeys(t *testing.T) {
	byName := map[string]Key{}
	for _, k := range Keys() {
		byName[k.Name] = k
	}
	tests := []Key{
		{Name: "name", Type: "string", Default: "latchkey"},
		{Name: "data_dir", Type: "string", Default: "./data"},
		{Name: "socket.address", Type: "string", Default: `""`},
		{Name: "socket.max_request_size_bytes", Type: "int", Default: "262144"},
		{Name: "session.token_expiry_sec", Type: "int", Default: "60"},
		{Name: "session.single_session", Type: "bool", Default: "false"},
		{Name: "session.signing_keys", Type: "list", Default: "[]"},
		{Name: "session.active_key", Type: "string", Default: `""`},
		{Name: "session.refresh_signing_keys", Type: "list", Default: "[]"},
		{Name: "session.refresh_active_key", Type: "string", Default: `""`},
		{Name: "runtime.env", Type: "list", Default: "[]"},
		{Name: "database.address", Type: "list", Default: "[]"},
		{Name: "database.create_fresh", Type: "bool", Default: "false"},
		{Name: "auth.bcrypt_cost", Type: "int", Default: "13"},
	}
	for _, want := range tests {
		got, ok := byName[want.Name]
		if !ok {
			t.Errorf("no key %s", want.Name)
			continue
		}
		if got.Type != want.Type || got.Default != want.Default {
			t.Errorf("%s: type %s, default %s; want %s, %s", want.Name, got.Type, got.Default, want.Type, want.Default)
		}
	}
	if got, want := len(Keys()), len(descriptions); got != want {
		t.Errorf("%d keys, want %d", got, want)
	}
}

func TestEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, f := range fieldTable() {
		if other, dup := seen[f.env]; dup {
			t.Errorf("keys %s and %s share the environment variable %s", other, f.name, f.env)
		}
		seen[f.env] = f.name
	}
	for name, want := range map[string]string{
		"data_dir":                 "LATCHKEY_DATA_DIR",
		"session.token_expiry_sec": "LATCHKEY_SESSION_TOKEN_EXPIRY_SEC",
		"runtime.http_key":         "LATCHKEY_RUNTIME_HTTP_KEY",
		"session.signing_keys":     "LATCHKEY_SESSION_SIGNING_KEYS",
	} {
		if f, ok := lookupField(name); !ok || f.env != want {
			t.Errorf("environment variable for %s = %q, want %q", name, f.env, want)
		}
	}
}

func TestFormatKeys(t *testing.T) {
	var buf bytes.Buffer
	FormatKeys(&buf)
	out := buf.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "KEY ") {
		t.Errorf("first line = %q, want a header", lines[0])
	}
	// Columns are aligned: the description starts at the same offset on every row.
	col := strings.Index(lines[0], "DESCRIPTION")
	for i, k := range Keys() {
		line := lines[i+1]
		if !strings.HasPrefix(line, k.Name+" ") {
			t.Errorf("row %d = %q, want key %s", i+1, line, k.Name)
		}
		if strings.Index(line, k.Description) != col {
			t.Errorf("row %q: description not aligned at column %d", line, col)
		}
	}
}
