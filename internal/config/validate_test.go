package config

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Name = ""
	c.DataDir = ""
	c.Socket.Port = 70000
	c.Socket.ServerKey = ""
	c.Socket.MaxRequestSizeBytes = 1023
	c.Socket.IdleTimeoutMs = -1
	c.Socket.ReadTimeoutMs = -1
	c.Socket.WriteTimeoutMs = -1
	c.Session.EncryptionKey = "same-secret"
	c.Session.RefreshEncryptionKey = "same-secret"
	c.Session.TokenExpirySec = 600
	c.Session.RefreshTokenExpirySec = 60
	c.Runtime.HTTPKey = ""
	c.Runtime.Env = []string{"ok=1", "sk_live_secret", "=x"}
	c.Logger.Level = "verbose"
	c.Auth.BcryptCost = 32
	c.Auth.MaxConcurrentHashes = -1

	got := problems(t, c.Validate())
	want := []string{
		"name:",
		"data_dir:",
		"socket.port:",
		"socket.server_key:",
		"socket.max_request_size_bytes:",
		"socket.idle_timeout_ms:",
		"socket.read_timeout_ms:",
		"socket.write_timeout_ms:",
		"session.refresh_encryption_key: must differ",
		"session.refresh_token_expiry_sec: must be at least session.token_expiry_sec",
		"runtime.http_key:",
		"runtime.env[1]:",
		"runtime.env[2]:",
		"logger.level:",
		"auth.bcrypt_cost:",
		"auth.max_concurrent_hashes:",
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	for _, secret := range []string{"same-secret", "sk_live_secret"} {
		if text := strings.Join(got, "\n"); strings.Contains(text, secret) {
			t.Errorf("problems quote the secret %q:\n%s", secret, text)
		}
	}
}

func TestValidateBoundaries(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // prefix of the single problem, or "" for valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"port 1", func(c *Config) { c.Socket.Port = 1 }, ""},
		{"port 65535", func(c *Config) { c.Socket.Port = 65535 }, ""},
		{"port 0", func(c *Config) { c.Socket.Port = 0 }, "socket.port:"},
		{"request size 1024", func(c *Config) { c.Socket.MaxRequestSizeBytes = 1024 }, ""},
		{"zero timeouts", func(c *Config) { c.Socket.IdleTimeoutMs, c.Socket.ReadTimeoutMs, c.Socket.WriteTimeoutMs = 0, 0, 0 }, ""},
		{"empty session key", func(c *Config) { c.Session.EncryptionKey = "" }, "session.encryption_key:"},
		{"empty refresh key", func(c *Config) { c.Session.RefreshEncryptionKey = "" }, "session.refresh_encryption_key:"},
		{"both keys empty reports emptiness only", func(c *Config) {
			c.Session.EncryptionKey, c.Session.RefreshEncryptionKey = "", ""
		}, "session.encryption_key:"},
		{"token expiry 0", func(c *Config) { c.Session.TokenExpirySec = 0 }, "session.token_expiry_sec:"},
		{"refresh expiry 0", func(c *Config) { c.Session.RefreshTokenExpirySec = 0 }, "session.refresh_token_expiry_sec: must be at least 1"},
		{"equal expiries", func(c *Config) { c.Session.TokenExpirySec, c.Session.RefreshTokenExpirySec = 60, 60 }, ""},
		{"bcrypt 4", func(c *Config) { c.Auth.BcryptCost = 4 }, ""},
		{"bcrypt 31", func(c *Config) { c.Auth.BcryptCost = 31 }, ""},
		{"bcrypt 3", func(c *Config) { c.Auth.BcryptCost = 3 }, "auth.bcrypt_cost:"},
		{"levels", func(c *Config) { c.Logger.Level = "error" }, ""},
		{"empty data_dir with a database", func(c *Config) {
			c.DataDir = ""
			c.Database.Address = StringList{"postgres://db"}
		}, ""},
		{"empty data_dir without a database", func(c *Config) { c.DataDir = "" }, "data_dir:"},
		{"env entry with empty value", func(c *Config) { c.Runtime.Env = []string{"k="} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			got := problems(t, err)
			if tt.name == "both keys empty reports emptiness only" {
				if len(got) != 2 {
					t.Errorf("problems = %q, want the two emptiness problems", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("problems = %q, want one starting %q", got, tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	def := Default()
	secrets := []string{def.Socket.ServerKey, def.Runtime.HTTPKey, def.Session.EncryptionKey, def.Session.RefreshEncryptionKey}

	got := def.Warnings()
	keys := []string{"socket.server_key", "runtime.http_key", "session.encryption_key", "session.refresh_encryption_key"}
	if len(got) != len(keys) {
		t.Fatalf("Default().Warnings() = %q, want %d warnings", got, len(keys))
	}
	for i, w := range got {
		if !strings.HasPrefix(w, keys[i]+" ") {
			t.Errorf("warning %d = %q, want it to name %s", i, w, keys[i])
		}
		for _, s := range secrets {
			if strings.Contains(w, s) {
				t.Errorf("warning %q contains the value %q", w, s)
			}
		}
	}

	c := Default()
	c.Socket.ServerKey, c.Runtime.HTTPKey = "s1", "s2"
	c.Session.EncryptionKey, c.Session.RefreshEncryptionKey = strings.Repeat("3", 32), strings.Repeat("4", 32)
	if got := c.Warnings(); len(got) != 0 {
		t.Errorf("Warnings() with private keys = %q, want none", got)
	}
	c.Runtime.HTTPKey = def.Runtime.HTTPKey
	if got := c.Warnings(); len(got) != 1 || !strings.HasPrefix(got[0], "runtime.http_key ") {
		t.Errorf("Warnings() = %q, want only runtime.http_key", got)
	}
}

func TestWarningsShortTokenKeys(t *testing.T) {
	c := Default()
	c.Socket.ServerKey, c.Runtime.HTTPKey = "s1", "s2"
	// A Nakama deployment's own short keys: accepted, so its players stay logged in, but warned about.
	c.Session.EncryptionKey, c.Session.RefreshEncryptionKey = "studio-session-key", "studio-refresh-key"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with short encryption keys = %v, want nil", err)
	}
	got := c.Warnings()
	want := []string{
		"session.encryption_key is shorter than 32 bytes",
		"session.refresh_encryption_key is shorter than 32 bytes",
	}
	if len(got) != len(want) {
		t.Fatalf("Warnings() = %q, want %d warnings", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want prefix %q", i, got[i], want[i])
		}
		if strings.Contains(got[i], "studio-") {
			t.Errorf("warning %q contains a key", got[i])
		}
	}
	// The Nakama defaults, also short, get the default warning only.
	for _, w := range Default().Warnings() {
		if strings.Contains(w, "shorter") {
			t.Errorf("Default().Warnings() has %q, want only the default-key warnings", w)
		}
	}
	// 32 bytes is enough.
	c.Session.EncryptionKey = strings.Repeat("k", 31)
	c.Session.RefreshEncryptionKey = strings.Repeat("r", 32)
	if got := c.Warnings(); len(got) != 1 || !strings.HasPrefix(got[0], "session.encryption_key ") {
		t.Errorf("Warnings() with 31- and 32-byte keys = %q, want one for session.encryption_key", got)
	}
}

func TestEnv(t *testing.T) {
	c := Default()
	c.Runtime.Env = []string{"a=1", "b=x=y", "c=", "bad", "a=2"}
	want := map[string]string{"a": "2", "b": "x=y", "c": ""}
	if got := c.Env(); !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %v, want %v", got, want)
	}
	if got := Default().Env(); got == nil || len(got) != 0 {
		t.Errorf("Default().Env() = %#v, want an empty map", got)
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		address string
		port    int
		want    string
	}{
		{"", 7350, ":7350"},
		{"127.0.0.1", 80, "127.0.0.1:80"},
		{"::1", 7350, "[::1]:7350"},
	}
	for _, tt := range tests {
		c := Default()
		c.Socket.Address, c.Socket.Port = tt.address, tt.port
		if got := c.ListenAddr(); got != tt.want {
			t.Errorf("ListenAddr() for %q, %d = %q, want %q", tt.address, tt.port, got, tt.want)
		}
	}
}

func TestStringListUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    StringList
		wantErr bool
	}{
		{`a: one`, StringList{"one"}, false},
		{`a: [one, two]`, StringList{"one", "two"}, false},
		{`a: []`, StringList{}, false},
		{`a: {x: y}`, nil, true},
		{`a: [[x]]`, nil, true},
	}
	for _, tt := range tests {
		var v struct{ A StringList }
		err := yaml.Unmarshal([]byte(tt.in), &v)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(v.A, tt.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", tt.in, v.A, tt.want)
		}
	}
}

func TestValidateSigningKeys(t *testing.T) {
	// Secrets are distinct and long, so that a message quoting one is caught below.
	s1 := "secret-one-0123456789abcdefghijkl"   // 33 bytes
	s2 := "secret-two-0123456789abcdefghijkl"   // 33 bytes
	r1 := "secret-refresh-0123456789abcdefgh"   // 33 bytes
	short := "secret-short-0123456789abcdefgh"  // 31 bytes
	exact := "secret-exact-0123456789abcdefghi" // 32 bytes
	if len(short) != 31 || len(exact) != 32 {
		t.Fatalf("test secrets have lengths %d and %d, want 31 and 32", len(short), len(exact))
	}
	keyring := func(c *Config, active string, entries ...string) {
		c.Session.SigningKeys, c.Session.ActiveKey = entries, active
	}
	refreshKeyring := func(c *Config, active string, entries ...string) {
		c.Session.RefreshSigningKeys, c.Session.RefreshActiveKey = entries, active
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // prefixes of every problem, in order; none for valid
	}{
		{"one key", func(c *Config) { keyring(c, "k1", "k1:"+s1) }, nil},
		{"rotated", func(c *Config) { keyring(c, "k2", "k1:"+s1, "k2:"+s2) }, nil},
		{"both kinds, ids may repeat across kinds", func(c *Config) {
			keyring(c, "k1", "k1:"+s1)
			refreshKeyring(c, "k1", "k1:"+r1)
		}, nil},
		{"secret holding colons", func(c *Config) { keyring(c, "k1", "k1:"+s1+":x:y") }, nil},
		{"32-byte secret", func(c *Config) { keyring(c, "k1", "k1:"+exact) }, nil},
		{"id of every allowed kind, 64 long", func(c *Config) {
			id := "Az09._-" + strings.Repeat("x", 57)
			keyring(c, id, id+":"+s1)
		}, nil},
		{"keyring secret equal to its own kind's encryption key", func(c *Config) {
			c.Session.EncryptionKey = s1
			keyring(c, "k1", "k1:"+s1)
		}, nil},
		{"entry without colon", func(c *Config) { keyring(c, "k1", "k1:"+s1, s2) },
			[]string{"session.signing_keys[1]: must be ID:SECRET"}},
		{"empty secret", func(c *Config) { keyring(c, "k1", "k1:"+s1, "k2:") },
			[]string{"session.signing_keys[1]: secret must not be empty"}},
		{"short secret", func(c *Config) { keyring(c, "k1", "k1:"+short) },
			[]string{"session.signing_keys[0]: secret must be at least 32 bytes"}},
		{"empty id", func(c *Config) { keyring(c, "k1", "k1:"+s1, ":"+s2) },
			[]string{"session.signing_keys[1]: id must be 1 to 64 letters, digits, '.', '_' or '-'"}},
		{"id with a space", func(c *Config) { keyring(c, "k1", "k1:"+s1, "k 2:"+s2) },
			[]string{"session.signing_keys[1]: id must be"}},
		{"id of 65", func(c *Config) {
			id := strings.Repeat("x", 65)
			keyring(c, id, id+":"+s1)
		}, []string{"session.signing_keys[0]: id must be"}},
		{"bad id and short secret in one entry", func(c *Config) { keyring(c, "k/1", "k/1:"+short) },
			[]string{"session.signing_keys[0]: id must be", "session.signing_keys[0]: secret must be at least 32 bytes"}},
		{"duplicate id", func(c *Config) { keyring(c, "k1", "k1:"+s1, "k2:"+s2, "k1:"+exact) },
			[]string{"session.signing_keys[2]: id is already used by session.signing_keys[0]"}},
		{"no active key", func(c *Config) { keyring(c, "", "k1:"+s1) },
			[]string{"session.active_key: must be set to the id of the session.signing_keys entry that signs new tokens"}},
		{"unknown active key", func(c *Config) { keyring(c, "k2", "k1:"+s1) },
			[]string{"session.active_key: must be the id of an entry in session.signing_keys"}},
		{"active key without keyring", func(c *Config) { keyring(c, "k1") },
			[]string{"session.active_key: must be empty when session.signing_keys is empty"}},
		{"refresh: no active key", func(c *Config) { refreshKeyring(c, "", "r1:"+r1) },
			[]string{"session.refresh_active_key: must be set to the id of the session.refresh_signing_keys entry"}},
		{"refresh: active key without keyring", func(c *Config) { refreshKeyring(c, "r1") },
			[]string{"session.refresh_active_key: must be empty when session.refresh_signing_keys is empty"}},
		{"refresh: short secret", func(c *Config) { refreshKeyring(c, "r1", "r1:"+short) },
			[]string{"session.refresh_signing_keys[0]: secret must be at least 32 bytes"}},
		{"secret in both keyrings", func(c *Config) {
			keyring(c, "k1", "k1:"+s1, "k2:"+s2)
			refreshKeyring(c, "r1", "r1:"+r1, "r2:"+s2)
		}, []string{"session.refresh_signing_keys[1]: must differ from session.signing_keys[1]"}},
		{"refresh keyring secret equal to session.encryption_key", func(c *Config) {
			c.Session.EncryptionKey = s1
			refreshKeyring(c, "r1", "r1:"+s1)
		}, []string{"session.refresh_signing_keys[0]: must differ from session.encryption_key"}},
		{"session keyring secret equal to session.refresh_encryption_key", func(c *Config) {
			c.Session.RefreshEncryptionKey = s1
			keyring(c, "k1", "k1:"+s1)
		}, []string{"session.refresh_encryption_key: must differ from session.signing_keys[0]"}},
		{"every problem at once", func(c *Config) {
			keyring(c, "k9", s1, "k1:", "bad id:"+short, "k1:"+s2)
			refreshKeyring(c, "", "r1:"+s2)
		}, []string{
			"session.signing_keys[0]: must be ID:SECRET",
			"session.signing_keys[1]: secret must not be empty",
			"session.signing_keys[2]: id must be",
			"session.signing_keys[2]: secret must be at least 32 bytes",
			"session.signing_keys[3]: id is already used by session.signing_keys[1]",
			"session.active_key: must be the id of an entry",
			"session.refresh_active_key: must be set",
			"session.refresh_signing_keys[0]: must differ from session.signing_keys[3]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range min(len(got), len(tt.want)) {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
			// "secret-" starts every test secret; no message may quote any part of one.
			if text := err.Error(); strings.Contains(text, "secret-") {
				t.Errorf("problems quote a secret:\n%s", text)
			}
		})
	}
}

func TestParseSigningKey(t *testing.T) {
	tests := []struct {
		entry  string
		want   SigningKey
		wantOK bool
	}{
		{"k1:abc", SigningKey{ID: "k1", Secret: "abc"}, true},
		{"k1:a:b:c", SigningKey{ID: "k1", Secret: "a:b:c"}, true},
		{":abc", SigningKey{ID: "", Secret: "abc"}, true},
		{"k1:", SigningKey{ID: "k1", Secret: ""}, true},
		{"no-colon-so-maybe-all-secret", SigningKey{}, false},
		{"", SigningKey{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseSigningKey(tt.entry)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseSigningKey(%q) = %+v, %v; want %+v, %v", tt.entry, got, ok, tt.want, tt.wantOK)
		}
	}
}

// settingCase changes the defaults with set and expects Validate to report a problem containing want, or
// nothing when want is "".
type settingCase struct {
	name string
	set  func(c *Config)
	want string
}

func runSettingCases(t *testing.T, tests []settingCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.set(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}

func TestOperationsSettings(t *testing.T) {
	ok := func(c *Config) {}
	tests := []settingCase{
		{"defaults", ok, ""},
		{"levels in any case", func(c *Config) { c.Logger.Level, c.Logger.RequestLevel = "DEBUG", "Info" }, ""},
		{"request logs off", func(c *Config) { c.Logger.RequestLevel = "OFF" }, ""},
		{"json logs", func(c *Config) { c.Logger.Format = "JSON" }, ""},
		{"unknown level", func(c *Config) { c.Logger.Level = "verbose" }, "logger.level: must be"},
		{"unknown request level", func(c *Config) { c.Logger.RequestLevel = "trace" }, "logger.request_level: must be"},
		{"unknown format", func(c *Config) { c.Logger.Format = "xml" }, "logger.format: must be text or json"},
		{"rotation without a file", func(c *Config) { c.Logger.Rotation = true }, "logger.rotation: needs logger.file"},
		{"rotation without a size", func(c *Config) { c.Logger.Rotation, c.Logger.File, c.Logger.MaxSize = true, "x.log", 0 }, "logger.max_size"},
		{"negative grace", func(c *Config) { c.ShutdownGraceSec = -1 }, "shutdown_grace_sec: must not be negative"},
		{"metrics port out of range", func(c *Config) { c.Metrics.PrometheusPort = 70000 }, "metrics.prometheus_port"},
		{"metrics on the client port", func(c *Config) { c.Metrics.PrometheusPort = 7350 }, "metrics.prometheus_port: must differ from socket.port"},
		{"bad metric prefix", func(c *Config) { c.Metrics.Prefix = "9lives" }, "metrics.prefix"},
		{"short admin key", func(c *Config) { c.Admin.Key = "short" }, "admin.key: must be at least 16"},
		{"admin on the metrics port", func(c *Config) {
			c.Admin.Key, c.Metrics.PrometheusPort, c.Admin.Port = "0123456789abcdef", 9100, 9100
		}, "admin.port: must differ from metrics.prometheus_port"},
		{"admin port unused while off", func(c *Config) { c.Admin.Port = 7350 }, ""},
	}
	runSettingCases(t, tests)
}

func TestTrustSettings(t *testing.T) {
	tests := []settingCase{
		{"defaults", func(c *Config) {}, ""},
		{"ES256", func(c *Config) { c.Tickets.Algorithm = "ES256" }, ""},
		{"photon on with defaults", func(c *Config) { c.Photon.Enabled = true }, ""},
		{"unknown algorithm", func(c *Config) { c.Tickets.Algorithm = "HS256" }, "tickets.algorithm: must be EdDSA or ES256"},
		{"zero ttl", func(c *Config) { c.Tickets.TTLSec = 0 }, "tickets.ttl_sec"},
		{"max below ttl", func(c *Config) { c.Tickets.MaxTTLSec = 10 }, "tickets.max_ttl_sec"},
		{"max above an hour", func(c *Config) { c.Tickets.MaxTTLSec = 7200 }, "tickets.max_ttl_sec"},
		{"fast rotation", func(c *Config) { c.Tickets.KeyRotationSec = 5 }, "tickets.key_rotation_sec"},
		{"no issuer", func(c *Config) { c.Tickets.Issuer = "" }, "tickets.issuer"},
		{"short verifier key", func(c *Config) { c.Tickets.VerifierKeys = StringList{"0123456789abcdef", "short"} }, "tickets.verifier_keys[1]"},
		{"photon path under /v2", func(c *Config) { c.Photon.Enabled, c.Photon.Path = true, "/v2/photon" }, "photon.path"},
		{"photon path relative", func(c *Config) { c.Photon.Enabled, c.Photon.Path = true, "photon" }, "photon.path"},
		{"photon path ignored while off", func(c *Config) { c.Photon.Path = "photon" }, ""},
		{"photon without token param", func(c *Config) { c.Photon.Enabled, c.Photon.TokenParam = true, "" }, "photon.token_param"},
		{"photon secret without its param", func(c *Config) {
			c.Photon.Enabled, c.Photon.Secret, c.Photon.SecretParam = true, "s3cret", ""
		}, "photon.secret_param"},
	}
	runSettingCases(t, tests)
}
