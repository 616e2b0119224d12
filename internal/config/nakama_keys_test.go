package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestNakamaIgnoredTable(t *testing.T) {
	wellFormed := regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	sections := sectionNames()
	seen := map[string]bool{}
	for _, e := range nakamaIgnored {
		if !wellFormed.MatchString(e) {
			t.Errorf("entry %q is not a dotted snake_case name", e)
		}
		if seen[e] {
			t.Errorf("entry %q is listed twice", e)
		}
		seen[e] = true
		for _, other := range nakamaIgnored {
			if strings.HasPrefix(e, other+".") {
				t.Errorf("entry %q lies under entry %q, which already covers it", e, other)
			}
		}
		// An entry must never shadow one of Latchkey's keys, or swallow one of its sections.
		for _, f := range fieldTable() {
			if f.name == e || strings.HasPrefix(f.name, e+".") || strings.HasPrefix(e, f.name+".") {
				t.Errorf("entry %q clashes with Latchkey's key %s", e, f.name)
			}
		}
		// Single keys are listed only in sections Latchkey shares; other sections are ignored whole.
		if section, _, dotted := strings.Cut(e, "."); dotted && !slices.Contains(sections, section) {
			t.Errorf("entry %q is in section %s, which Latchkey does not have; list the section instead", e, section)
		}
	}
}

// nakamaYAML is a Nakama config file as a studio would have it: keys Latchkey has, whole sections it has not,
// and keys it does not use within shared sections, some holding values of shapes Nakama would reject. Every
// ignored value starts "ignored-" so that a message quoting one is caught.
const nakamaYAML = `
name: nakama1
data_dir: "./data/"
shutdown_grace_sec: 30
logger:
  level: "debug"
  stdout: true
  file: "/var/log/nakama.log"
  format: json
metrics:
  prometheus_port: 9100
  namespace: ignored-metrics
console:
  port: 7351
  username: ignored-admin
  password: ignored-console-password
  signing_key: ignored-console-signing-key
match:
  input_queue_size: 128
  deferred_queue_size: [ignored-odd, shape]
socket:
  server_key: "studio-server-key"
  port: 7350
  response_headers: {ignored-header: ignored-value}
  read_buffer_size_bytes: 4096
session:
  encryption_key: "studio-session-key-0123456789abcdefghijkl"
  refresh_encryption_key: "studio-refresh-key-0123456789abcdefghijkl"
  token_expiry_sec: 7200
  refresh_token_expiry_sec: 2592000
  single_party: [ignored-a-list-where-a-bool-goes]
  single_match: true
runtime:
  http_key: "studio-http-key"
  path: "/nakama/data/modules"
  js_entrypoint: "build/index.js"
  env:
    - "example_apikey=example_apivalue"
database:
  address:
    - "postgres://nakama@db:5432/nakama"
  max_open_conns: 100
  conn_max_lifetime_ms: 3600000
social:
  steam:
    publisher_key: studio-steam-publisher-key
    app_id: 123
iap:
google_auth: ignored-scalar-where-a-section-goes
`

// checkNoIgnoredValue fails if text quotes any part of an ignored setting's value.
func checkNoIgnoredValue(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, "ignored-") {
		t.Errorf("%s quotes the value of an ignored setting:\n%s", what, text)
	}
}

func TestNakamaConfigFile(t *testing.T) {
	path := writeFile(t, "nakama.yml", nakamaYAML)
	c, rest, err := Load([]string{"--config", path}, env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("rest = %q, want none", rest)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// The keys Latchkey has are applied.
	want := Default()
	want.Name, want.DataDir, want.Logger.Level = "nakama1", "./data/", "debug"
	want.ShutdownGraceSec, want.Logger.File, want.Logger.Format = 30, "/var/log/nakama.log", "json"
	want.Metrics.PrometheusPort = 9100
	want.Socket.ServerKey, want.Socket.Port = "studio-server-key", 7350
	want.Session.EncryptionKey = "studio-session-key-0123456789abcdefghijkl"
	want.Session.RefreshEncryptionKey = "studio-refresh-key-0123456789abcdefghijkl"
	want.Session.TokenExpirySec, want.Session.RefreshTokenExpirySec = 7200, 2592000
	want.Runtime.HTTPKey, want.Runtime.Env = "studio-http-key", []string{"example_apikey=example_apivalue"}
	want.Database.Address = StringList{"postgres://nakama@db:5432/nakama"}
	want.Social.Steam.PublisherKey, want.Social.Steam.AppID = "studio-steam-publisher-key", 123
	want.Runtime.Path, want.Runtime.JSEntrypoint = "/nakama/data/modules", "build/index.js"
	want.ignored = c.ignored
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}

	// The rest is named once, sorted, sections by section, in one warning.
	got := c.Warnings()
	wantWarning := "ignored Nakama settings Latchkey does not use: console, database.conn_max_lifetime_ms, " +
		"database.max_open_conns, google_auth, iap, match, metrics.namespace, " +
		"session.single_match, session.single_party, socket.response_headers"
	if len(got) != 1 || got[0] != wantWarning {
		t.Errorf("Warnings() = %q\nwant [%q]", got, wantWarning)
	}
	checkNoIgnoredValue(t, "Warnings()", strings.Join(got, "\n"))
}

func TestNakamaSettingsIgnoredAcrossSources(t *testing.T) {
	first := writeFile(t, "a.yml", "console:\n  port: 7351\nsocket:\n  protocol: tcp4\n")
	second := writeFile(t, "b.yml", "console:\n  address: ignored-address\nmetrics:\n  namespace: ignored-ns\n")
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		check    func(c Config) bool
		wantRest []string
		want     string // the ignored-settings warning, or "" for none
	}{
		{
			name: "repeats across files are named once",
			args: []string{"--config", first, "--config", second},
			want: "ignored Nakama settings Latchkey does not use: console, metrics.namespace, socket.protocol",
		},
		{
			name: "flags, with and without values, named by section like the file's",
			args: []string{
				"--console.port", "7351", "--session.single_party", "--socket.port", "7400",
				"-console.signing_key=ignored-flag-secret", "--socket.response_headers", "ignored-header",
				"--config", first, "up",
			},
			check:    func(c Config) bool { return c.Socket.Port == 7400 },
			wantRest: []string{"up"},
			want:     "ignored Nakama settings Latchkey does not use: console, session.single_party, socket.protocol, socket.response_headers",
		},
		{
			name:  "a bare ignored flag last",
			args:  []string{"--socket.port=7400", "--session.single_match"},
			check: func(c Config) bool { return c.Socket.Port == 7400 },
			want:  "ignored Nakama settings Latchkey does not use: session.single_match",
		},
		{
			// The environment is read only for Latchkey's own keys, as before.
			name: "environment variables for Nakama settings are not read",
			env:  map[string]string{"LATCHKEY_CONSOLE_PORT": "7351", "LATCHKEY_SOCKET_PROTOCOL": "ignored-env"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rest, err := Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.check != nil && !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
			if !reflect.DeepEqual(rest, tt.wantRest) {
				t.Errorf("rest = %q, want %q", rest, tt.wantRest)
			}
			var got []string
			for _, w := range c.Warnings() {
				if strings.HasPrefix(w, "ignored ") {
					got = append(got, w)
				}
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("ignored-settings warnings = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("ignored-settings warnings = %q\nwant [%q]", got, tt.want)
			}
			checkNoIgnoredValue(t, "Warnings()", strings.Join(c.Warnings(), "\n"))
		})
	}
}

func TestNakamaConfigTyposStillFail(t *testing.T) {
	tests := []struct {
		name string
		yaml string // appended to nakamaYAML, whose settings are all accepted
		args []string
		want string // the one problem, without the file position
	}{
		{"misspelt section", "sesion:\n  token_expiry_sec: 60\n", nil,
			"unknown key sesion (did you mean session?)"},
		{"misspelt key in a shared section", "", []string{"--config", writeFile(t, "t.yml", "session:\n  token_expiry_secs: 60\n")},
			"unknown key session.token_expiry_secs (did you mean session.token_expiry_sec?)"},
		{"misspelt ignored section", "consle:\n  port: 7351\n", nil,
			"unknown key consle (did you mean console?)"},
		{"misspelt ignored key", "", []string{"--config", writeFile(t, "t.yml", "session:\n  single_partys: ignored-x\n")},
			"unknown key session.single_partys (did you mean session.single_party?)"},
		{"made-up key in a shared section", "", []string{"--config", writeFile(t, "t.yml", "socket:\n  ssl_mode: ignored-x\n")},
			"unknown key socket.ssl_mode"},
		{"misspelt flag", "", []string{"--sesion.token_expiry_sec", "60"},
			"unknown flag --sesion.token_expiry_sec (did you mean session.token_expiry_sec?)"},
		{"misspelt ignored flag", "", []string{"--consol.port=7351"},
			"unknown flag --consol.port (did you mean console.port?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--config", writeFile(t, "nakama.yml", nakamaYAML+tt.yaml)}
			args = append(args, tt.args...)
			_, _, err := Load(args, env(nil))
			got := problems(t, err)
			if len(got) != 1 || !strings.HasSuffix(got[0], tt.want) {
				t.Errorf("problems = %q, want one ending %q", got, tt.want)
			}
			checkNoIgnoredValue(t, "the error", err.Error())
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"server_key", "socket.server_key"}, // the one key with that last segment
		{"port", ""},                        // socket.port, admin.port
		{"token_expiry_sec", "session.token_expiry_sec"},
		{"single-party", "session.single_party"}, // a Nakama setting Latchkey ignores
		{"address", ""},                          // socket.address or database.address
		{"sesion", "session"},
		{"runtime.http_kye", "runtime.http_key"},
		{"matchmakr", "matchmaker"},
		{"matchmakr.max_tickets", "matchmaker.max_tickets"}, // anything under an ignored section is accepted
		{"sesion.single_party", "session.single_party"},
		{"sockt.port", "socket.port"},
		{"nope", ""}, // two edits from "name", too many for four letters
		{"colour", ""},
		{"socket.bogus", ""},
	}
	for _, tt := range tests {
		want := ""
		if tt.want != "" {
			want = " (did you mean " + tt.want + "?)"
		}
		if got := suggest(tt.name); got != want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"session", "session", 0},
		{"sesion", "session", 1},
		{"sessoin", "session", 2},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestTLSKeysGoTogether(t *testing.T) {
	for _, args := range [][]string{
		{"--socket.ssl_certificate", "/etc/ignored-cert.pem"},
		{"--socket.ssl_private_key", "/etc/ignored-key.pem"},
	} {
		cfg, _, err := Load(args, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "must be set together") {
			t.Errorf("Validate() with %q = %v, want the pair asked for", args, err)
		}
		if err != nil {
			checkNoIgnoredValue(t, "Validate()", err.Error())
		}
	}
}
