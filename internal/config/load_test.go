package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFile writes a config file in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env returns a getenv backed by m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// problems returns the problems in err, failing the test if err is not an *Error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if got := ce.Error(); got != strings.Join(ce.Problems, "\n") {
		t.Errorf("Error() = %q, want the problems joined by newlines", got)
	}
	return ce.Problems
}

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", c.Name, "latchkey"},
		{"data_dir", c.DataDir, "./data"},
		{"socket.address", c.Socket.Address, ""},
		{"socket.port", c.Socket.Port, 7350},
		{"socket.server_key", c.Socket.ServerKey, "defaultkey"},
		{"socket.max_request_size_bytes", c.Socket.MaxRequestSizeBytes, int64(262144)},
		{"socket.idle_timeout_ms", c.Socket.IdleTimeoutMs, 60000},
		{"socket.read_timeout_ms", c.Socket.ReadTimeoutMs, 10000},
		{"socket.write_timeout_ms", c.Socket.WriteTimeoutMs, 10000},
		{"session.encryption_key", c.Session.EncryptionKey, "defaultencryptionkey"},
		{"session.signing_keys", len(c.Session.SigningKeys), 0},
		{"session.active_key", c.Session.ActiveKey, ""},
		{"session.token_expiry_sec", c.Session.TokenExpirySec, int64(60)},
		{"session.refresh_encryption_key", c.Session.RefreshEncryptionKey, "defaultrefreshencryptionkey"},
		{"session.refresh_signing_keys", len(c.Session.RefreshSigningKeys), 0},
		{"session.refresh_active_key", c.Session.RefreshActiveKey, ""},
		{"session.refresh_token_expiry_sec", c.Session.RefreshTokenExpirySec, int64(3600)},
		{"session.single_session", c.Session.SingleSession, false},
		{"runtime.http_key", c.Runtime.HTTPKey, "defaulthttpkey"},
		{"runtime.env", len(c.Runtime.Env), 0},
		{"database.address", len(c.Database.Address), 0},
		{"logger.level", c.Logger.Level, "info"},
		{"auth.bcrypt_cost", c.Auth.BcryptCost, 13},
		{"auth.max_concurrent_hashes", c.Auth.MaxConcurrentHashes, 0},
		{"ListenAddr", c.ListenAddr(), ":7350"},
		{"DatabaseAddress", c.DatabaseAddress(), ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
	// With no files, environment or flags, Load returns exactly Default().
	got, rest, err := Load(nil, nil)
	if err != nil || rest != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("Load(nil, nil) = %+v, %q, %v; want Default(), nil, nil", got, rest, err)
	}
}

const baseYAML = `
name: node1
data_dir: /var/lib/latchkey
socket:
  address: 127.0.0.1
  port: 7000
  server_key: filekey
session:
  token_expiry_sec: 120
  refresh_token_expiry_sec: 7200
  single_session: true
runtime:
  env:
    - a=1
    - b=2
database:
  address:
    - postgres://file
logger:
  level: debug
`

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "base.yaml", baseYAML)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "file overrides defaults",
			args: []string{"--config", file},
			check: func(t *testing.T, c Config) {
				want := Default()
				want.Name = "node1"
				want.DataDir = "/var/lib/latchkey"
				want.Socket.Address, want.Socket.Port, want.Socket.ServerKey = "127.0.0.1", 7000, "filekey"
				want.Session.TokenExpirySec, want.Session.RefreshTokenExpirySec = 120, 7200
				want.Session.SingleSession = true
				want.Runtime.Env = []string{"a=1", "b=2"}
				want.Database.Address = StringList{"postgres://file"}
				want.Logger.Level = "debug"
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "env overrides file",
			args: []string{"--config=" + file},
			env: map[string]string{
				"LATCHKEY_SOCKET_PORT":              "7100",
				"LATCHKEY_DATA_DIR":                 "/env/data",
				"LATCHKEY_SESSION_TOKEN_EXPIRY_SEC": "300",
				"LATCHKEY_SESSION_SINGLE_SESSION":   "false",
				"LATCHKEY_RUNTIME_ENV":              "c=3\nd=4,5\n",
				"LATCHKEY_DATABASE_ADDRESS":         "postgresql://h1:5432,h2:5432/db",
			},
			check: func(t *testing.T, c Config) {
				if c.Socket.Port != 7100 || c.DataDir != "/env/data" || c.Session.TokenExpirySec != 300 ||
					c.Session.SingleSession {
					t.Errorf("env not applied: %+v", c)
				}
				if c.Socket.ServerKey != "filekey" || c.Logger.Level != "debug" {
					t.Errorf("file values lost: %+v", c)
				}
				if want := []string{"c=3", "d=4,5"}; !reflect.DeepEqual(c.Runtime.Env, want) {
					t.Errorf("runtime.env = %q, want %q", c.Runtime.Env, want)
				}
				if got := c.DatabaseAddress(); got != "postgresql://h1:5432,h2:5432/db" {
					t.Errorf("DatabaseAddress() = %q", got)
				}
			},
		},
		{
			name: "flag overrides env",
			args: []string{"--config", file, "--socket.port", "7200", "-session.token_expiry_sec=30", "--data_dir=/flag"},
			env:  map[string]string{"LATCHKEY_SOCKET_PORT": "7100", "LATCHKEY_SESSION_TOKEN_EXPIRY_SEC": "300", "LATCHKEY_DATA_DIR": "/env"},
			check: func(t *testing.T, c Config) {
				if c.Socket.Port != 7200 || c.Session.TokenExpirySec != 30 || c.DataDir != "/flag" {
					t.Errorf("flags not applied: port %d, expiry %d, data_dir %q", c.Socket.Port, c.Session.TokenExpirySec, c.DataDir)
				}
			},
		},
		{
			name: "flag before config file still wins",
			args: []string{"--socket.port=7300", "--config", file},
			check: func(t *testing.T, c Config) {
				if c.Socket.Port != 7300 {
					t.Errorf("socket.port = %d, want 7300", c.Socket.Port)
				}
			},
		},
		{
			name: "later config file overrides earlier",
			args: []string{"--config", file, "--config", writeFile(t, "over.yaml", "socket:\n  port: 9000\n")},
			check: func(t *testing.T, c Config) {
				if c.Socket.Port != 9000 || c.Socket.ServerKey != "filekey" {
					t.Errorf("socket = %+v, want port 9000 from the second file and server_key from the first", c.Socket)
				}
			},
		},
		{
			name: "empty env var counts as unset",
			args: []string{"--config", file},
			env:  map[string]string{"LATCHKEY_SOCKET_SERVER_KEY": ""},
			check: func(t *testing.T, c Config) {
				if c.Socket.ServerKey != "filekey" {
					t.Errorf("socket.server_key = %q, want the file's", c.Socket.ServerKey)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rest, err := Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(rest) != 0 {
				t.Errorf("rest = %q, want none", rest)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadFlags(t *testing.T) {
	file := writeFile(t, "base.yaml", baseYAML)
	tests := []struct {
		name     string
		args     []string
		check    func(c Config) bool
		wantRest []string
	}{
		{
			name:  "space form",
			args:  []string{"--logger.level", "warn"},
			check: func(c Config) bool { return c.Logger.Level == "warn" },
		},
		{
			name:  "equals form",
			args:  []string{"--logger.level=warn"},
			check: func(c Config) bool { return c.Logger.Level == "warn" },
		},
		{
			name:  "single dash forms",
			args:  []string{"-logger.level", "warn", "-socket.port=1"},
			check: func(c Config) bool { return c.Logger.Level == "warn" && c.Socket.Port == 1 },
		},
		{
			name:  "value may contain equals and start with a dash",
			args:  []string{"--session.encryption_key=a=b", "--socket.port", "-5"},
			check: func(c Config) bool { return c.Session.EncryptionKey == "a=b" && c.Socket.Port == -5 },
		},
		{
			name:  "bare bool last",
			args:  []string{"--session.single_session"},
			check: func(c Config) bool { return c.Session.SingleSession },
		},
		{
			name:  "bare bool before another flag",
			args:  []string{"--session.single_session", "--socket.port", "8000"},
			check: func(c Config) bool { return c.Session.SingleSession && c.Socket.Port == 8000 },
		},
		{
			name:  "bool with value",
			args:  []string{"--config", file, "--session.single_session", "false"},
			check: func(c Config) bool { return !c.Session.SingleSession },
		},
		{
			name:  "bool with equals",
			args:  []string{"--config", file, "--session.single_session=false"},
			check: func(c Config) bool { return !c.Session.SingleSession },
		},
		{
			name: "repeated list flags replace the file's list then append",
			args: []string{"--config", file, "--runtime.env", "x=1", "--runtime.env=y=2", "--database.address", "pg://a", "--database.address", "pg://b"},
			check: func(c Config) bool {
				return reflect.DeepEqual(c.Runtime.Env, []string{"x=1", "y=2"}) &&
					reflect.DeepEqual(c.Database.Address, StringList{"pg://a", "pg://b"}) &&
					c.DatabaseAddress() == "pg://a"
			},
		},
		{
			name:     "non-flag arguments are returned in order",
			args:     []string{"up", "--socket.port", "8000", "2", "-"},
			check:    func(c Config) bool { return c.Socket.Port == 8000 },
			wantRest: []string{"up", "2", "-"},
		},
		{
			name:     "double dash ends flags",
			args:     []string{"--socket.port=8000", "--", "--socket.port=9000", "x"},
			check:    func(c Config) bool { return c.Socket.Port == 8000 },
			wantRest: []string{"--socket.port=9000", "x"},
		},
		{
			name:     "help is left for the caller",
			args:     []string{"-h", "--help", "-help"},
			check:    func(c Config) bool { return reflect.DeepEqual(c, Default()) },
			wantRest: []string{"-h", "--help", "-help"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rest, err := Load(tt.args, env(nil))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
			if !reflect.DeepEqual(rest, tt.wantRest) {
				t.Errorf("rest = %q, want %q", rest, tt.wantRest)
			}
		})
	}
}

func TestStringListYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want StringList
	}{
		{"scalar", "database:\n  address: postgres://one\n", StringList{"postgres://one"}},
		{"list", "database:\n  address:\n    - postgres://one\n    - postgres://two\n", StringList{"postgres://one", "postgres://two"}},
		{"flow list", "database:\n  address: [a, b]\n", StringList{"a", "b"}},
		{"null", "database:\n  address:\n", nil},
		{"alias", "socket:\n  address: &a postgres://one\ndatabase:\n  address: *a\n", StringList{"postgres://one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load([]string{"--config", writeFile(t, "c.yaml", tt.yaml)}, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(c.Database.Address, tt.want) {
				t.Errorf("database.address = %q, want %q", c.Database.Address, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	bad := writeFile(t, "bad.yaml", `
colour: blue
socket:
  port: seven
  bogus: 1
  server_key: [secretlist]
session:
  token_expiry_sec: 1.5
  nested:
    deeper: 1
database:
  address: {host: x}
runtime:
  env: notalist
token_expiry_sec: 5
socket:
  port: 1
`)
	args := []string{
		"--config", bad,
		"--config", filepath.Join(t.TempDir(), "missing.yaml"),
		"--nope", "serve",
		"--server_key=x",
		"--socket.port", "x",
		"--session.single_session", "maybe",
		"--config",
	}
	e := map[string]string{"LATCHKEY_AUTH_BCRYPT_COST": "high"}
	_, rest, err := Load(args, env(e))
	got := problems(t, err)
	want := []string{
		"bad.yaml:2:1: unknown key colour",
		"bad.yaml:4:9: socket.port: want an integer, got \"seven\"",
		"bad.yaml:5:3: unknown key socket.bogus",
		"bad.yaml:6:15: socket.server_key: want a string, got a list",
		"bad.yaml:8:21: session.token_expiry_sec: want an integer, got \"1.5\"",
		"bad.yaml:9:3: unknown key session.nested",
		"bad.yaml:12:12: database.address: want a string or a list of strings, got a mapping",
		"bad.yaml:14:8: runtime.env: want a list of strings, got a single value",
		"bad.yaml:15:1: unknown key token_expiry_sec (did you mean session.token_expiry_sec?)",
		"bad.yaml:16:1: duplicate key socket (first at line 3)",
		"reading config file: open ",
		"LATCHKEY_AUTH_BCRYPT_COST: want an integer, got \"high\"",
		"unknown flag --nope",
		"unknown flag --server_key (did you mean socket.server_key?)",
		"--socket.port: want an integer, got \"x\"",
		"--session.single_session: want true or false, got \"maybe\"",
		"flag --config needs a file name",
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
	if strings.Contains(err.Error(), "secretlist") {
		t.Errorf("error quotes a string key's value:\n%v", err)
	}
	if want := []string{"serve"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest = %q, want %q", rest, want)
	}
}

func TestLoadFileShapes(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // a problem that must appear, or "" for none
	}{
		{"empty file", "", ""},
		{"comments only", "# nothing\n", ""},
		{"empty section", "socket:\n", ""},
		{"null keeps a scalar's value", "socket:\n  server_key:\n", ""},
		{"top level list", "- a\n", "want a mapping of settings, got a list"},
		{"section scalar", "socket: 5\n", "socket: want a mapping of settings, got a single value"},
		{"syntax error", "socket:\n  port: [\n", "c.yaml: yaml:"},
		{"two documents", "name: a\n---\nname: b\n", "want one YAML document"},
		{"merge key", "socket:\n  <<: {port: 1}\n", "merge keys (<<) are not supported"},
		{"int out of range", "socket:\n  port: 99999999999999999999\n", "socket.port: want an integer"},
		{"largest int64 loads; Validate rejects the port", "socket:\n  port: 9223372036854775807\n", ""},
		{"bad bool", "session:\n  single_session: maybe\n", "session.single_session: want true or false, got \"maybe\""},
		{"env list holding a mapping", "runtime:\n  env:\n    - {a: b}\n", "runtime.env: want a list of strings, got a list holding a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load([]string{"--config", writeFile(t, "c.yaml", tt.yaml)}, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c.Socket.ServerKey != "defaultkey" {
					t.Errorf("socket.server_key = %q, want it unchanged", c.Socket.ServerKey)
				}
				return
			}
			got := problems(t, err)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestNakamaStyleFile(t *testing.T) {
	// The shape of a Nakama config file that uses only keys Latchkey has.
	path := writeFile(t, "nakama.yml", `
name: nakama1
data_dir: "./data/"
logger:
  level: "debug"
session:
  token_expiry_sec: 7200
  encryption_key: "a"
  refresh_encryption_key: "b"
socket:
  server_key: "k"
runtime:
  http_key: "h"
  env:
    - "example_apikey=example_apivalue"
database:
  address:
    - "root@localhost:26257"
`)
	c, _, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.Env(), map[string]string{"example_apikey": "example_apivalue"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %v, want %v", got, want)
	}
	if got := c.DatabaseAddress(); got != "root@localhost:26257" {
		t.Errorf("DatabaseAddress() = %q", got)
	}
}

func TestLoadSigningKeys(t *testing.T) {
	const (
		a = "secret-a-0123456789abcdefghijklmnop"
		b = "secret-b-0123456789abcdefghijklmnop:with:colons"
		r = "secret-r-0123456789abcdefghijklmnop"
	)
	file := writeFile(t, "keys.yaml", `
session:
  encryption_key: nakama-era-key
  signing_keys:
    - 2025-01-01:`+a+`
    - "2025-06-01:`+b+`"
  active_key: 2025-06-01
  refresh_encryption_key: nakama-era-refresh-key
  refresh_signing_keys: r1:`+r+`
  refresh_active_key: r1
`)
	tests := []struct {
		name                 string
		args                 []string
		env                  map[string]string
		signing              StringList
		active               string
		refresh              StringList
		refreshActive        string
		encryption, rEncrypt string
	}{
		{
			name:    "YAML list, and a single string for a list",
			args:    []string{"--config", file},
			signing: StringList{"2025-01-01:" + a, "2025-06-01:" + b}, active: "2025-06-01",
			refresh: StringList{"r1:" + r}, refreshActive: "r1",
			encryption: "nakama-era-key", rEncrypt: "nakama-era-refresh-key",
		},
		{
			name: "environment, one entry per line, replaces the file's list",
			args: []string{"--config", file},
			env: map[string]string{
				"LATCHKEY_SESSION_SIGNING_KEYS":         "k1:" + a + "\r\nk2:" + b + "\n",
				"LATCHKEY_SESSION_ACTIVE_KEY":           "k2",
				"LATCHKEY_SESSION_REFRESH_SIGNING_KEYS": "r2:" + r,
				"LATCHKEY_SESSION_REFRESH_ACTIVE_KEY":   "r2",
			},
			signing: StringList{"k1:" + a, "k2:" + b}, active: "k2",
			refresh: StringList{"r2:" + r}, refreshActive: "r2",
			encryption: "nakama-era-key", rEncrypt: "nakama-era-refresh-key",
		},
		{
			name: "repeated flags replace the file's list, then add entries",
			args: []string{
				"--config", file,
				"--session.signing_keys", "k1:" + a, "--session.signing_keys=k2:" + b, "--session.active_key", "k1",
				"--session.refresh_signing_keys", "r3:" + r, "--session.refresh_active_key=r3",
			},
			signing: StringList{"k1:" + a, "k2:" + b}, active: "k1",
			refresh: StringList{"r3:" + r}, refreshActive: "r3",
			encryption: "nakama-era-key", rEncrypt: "nakama-era-refresh-key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			s := c.Session
			if !reflect.DeepEqual(s.SigningKeys, tt.signing) || s.ActiveKey != tt.active {
				t.Errorf("signing_keys = %q, active_key = %q; want %q, %q", s.SigningKeys, s.ActiveKey, tt.signing, tt.active)
			}
			if !reflect.DeepEqual(s.RefreshSigningKeys, tt.refresh) || s.RefreshActiveKey != tt.refreshActive {
				t.Errorf("refresh_signing_keys = %q, refresh_active_key = %q; want %q, %q",
					s.RefreshSigningKeys, s.RefreshActiveKey, tt.refresh, tt.refreshActive)
			}
			if s.EncryptionKey != tt.encryption || s.RefreshEncryptionKey != tt.rEncrypt {
				t.Errorf("encryption keys = %q, %q; want %q, %q", s.EncryptionKey, s.RefreshEncryptionKey, tt.encryption, tt.rEncrypt)
			}
			// Every form loads a keyring that validates, with the Nakama-era keys kept and warned about.
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestLoadSigningKeysWrongShape(t *testing.T) {
	// "- k1: secret" (a space after the colon) is a YAML mapping, not an ID:SECRET string.
	path := writeFile(t, "c.yaml", "session:\n  signing_keys:\n    - k1: secret-in-a-mapping\n  active_key: [k1]\n")
	_, _, err := Load([]string{"--config", path}, nil)
	got := problems(t, err)
	want := []string{
		"c.yaml:3:5: session.signing_keys: want a string or a list of strings, got a list holding a mapping",
		"c.yaml:4:15: session.active_key: want a string, got a list",
	}
	if len(got) != len(want) {
		t.Fatalf("problems = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to end %q", i, got[i], want[i])
		}
	}
	if strings.Contains(err.Error(), "secret-in-a-mapping") {
		t.Errorf("problems quote a secret:\n%v", err)
	}
}
