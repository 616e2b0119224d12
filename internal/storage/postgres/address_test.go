package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// clearPGEnv unsets the libpq variables that change how addresses are read.
func clearPGEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"PGDATABASE", "PGSSLMODE", "PGAPPNAME", "PGCONNECT_TIMEOUT", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"} {
		t.Setenv(v, "")
	}
}

func TestNormalizeAddress(t *testing.T) {
	clearPGEnv(t)
	tests := []struct {
		in, want string
	}{
		// URLs keep what they say and gain the defaults they lack.
		{"postgres://u:p@db.example.com:5432/game?sslmode=disable", "postgres://u:p@db.example.com:5432/game?sslmode=disable"},
		{"postgresql://u@db.example.com/game", "postgresql://u@db.example.com/game?sslmode=prefer"},
		{"postgres://db.example.com:5432", "postgres://db.example.com:5432/latchkey?sslmode=prefer"},
		{"postgres://db.example.com:5432/", "postgres://db.example.com:5432/latchkey?sslmode=prefer"},
		{"postgres://h/db?sslmode=verify-full&pool_max_conns=8", "postgres://h/db?sslmode=verify-full&pool_max_conns=8"},
		{"  postgres://h/db?sslmode=require \n", "postgres://h/db?sslmode=require"},
		// Nakama's forms, read as URLs without a scheme.
		{"root@localhost:26257", "postgresql://root@localhost:26257/latchkey?sslmode=prefer"},
		{"user:pass@db.example.com:5432/game", "postgresql://user:pass@db.example.com:5432/game?sslmode=prefer"},
		{"user@db.example.com:5432/game", "postgresql://user@db.example.com:5432/game?sslmode=prefer"},
		{"localhost:5432", "postgresql://localhost:5432/latchkey?sslmode=prefer"},
		{"localhost", "postgresql://localhost/latchkey?sslmode=prefer"},
		{"[::1]:5432/game", "postgresql://[::1]:5432/game?sslmode=prefer"},
		{"user:p%40ss@h/game?sslmode=disable", "postgresql://user:p%40ss@h/game?sslmode=disable"},
	}
	for _, tt := range tests {
		u, err := normalizeAddress(tt.in)
		if err != nil {
			t.Errorf("normalizeAddress(%q): %v", tt.in, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("normalizeAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeAddressEnvironment(t *testing.T) {
	clearPGEnv(t)
	// libpq's variables outrank the built-in defaults, so they are left for pgx to apply.
	t.Setenv("PGDATABASE", "fromenv")
	t.Setenv("PGSSLMODE", "require")
	u, err := normalizeAddress("localhost:5432")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "postgresql://localhost:5432"; got != want {
		t.Errorf("normalizeAddress with PGDATABASE and PGSSLMODE = %q, want %q", got, want)
	}
	cfg, err := parseConfig("localhost:5432")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Database != "fromenv" {
		t.Errorf("database = %q, want fromenv", cfg.ConnConfig.Database)
	}
}

func TestParseConfig(t *testing.T) {
	clearPGEnv(t)
	cfg, err := parseConfig("gamer:pw@db.example.com:6543/game")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.ConnConfig
	if c.Host != "db.example.com" || c.Port != 6543 || c.Database != "game" || c.User != "gamer" || c.Password != "pw" {
		t.Errorf("config = host %q port %d database %q user %q password %q", c.Host, c.Port, c.Database, c.User, c.Password)
	}
	if cfg.MaxConns != defaultMaxConns() || cfg.MaxConns < 4 {
		t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, defaultMaxConns())
	}
	if got := c.RuntimeParams["application_name"]; got != applicationName {
		t.Errorf("application_name = %q, want %q", got, applicationName)
	}
	if c.ConnectTimeout != defaultConnectTimeout {
		t.Errorf("ConnectTimeout = %v, want %v", c.ConnectTimeout, defaultConnectTimeout)
	}
	if c.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement {
		t.Errorf("DefaultQueryExecMode = %v, want cached prepared statements", c.DefaultQueryExecMode)
	}
	if c.TLSConfig == nil || len(c.Fallbacks) == 0 {
		t.Errorf("sslmode=prefer should try TLS, then plain: TLSConfig %v, %d fallbacks", c.TLSConfig, len(c.Fallbacks))
	}

	cfg, err = parseConfig("postgres://h/db?pool_max_conns=7&application_name=mine&connect_timeout=3&sslmode=disable&default_query_exec_mode=describe_exec")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 7 || cfg.ConnConfig.RuntimeParams["application_name"] != "mine" || cfg.ConnConfig.ConnectTimeout != 3*time.Second ||
		cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeDescribeExec {
		t.Errorf("overrides: MaxConns %d, application_name %q, ConnectTimeout %v, DefaultQueryExecMode %v; want 7, mine, 3s, describe_exec",
			cfg.MaxConns, cfg.ConnConfig.RuntimeParams["application_name"], cfg.ConnConfig.ConnectTimeout, cfg.ConnConfig.DefaultQueryExecMode)
	}
}

// secret is the password of the addresses in the error tests; no part of it may show in a message.
const secret = "Zq9xW7"

func TestAddressErrorsHidePassword(t *testing.T) {
	clearPGEnv(t)
	bad := []string{
		"",
		"   ",
		"mysql://u:" + secret + "@h/db",
		"postgres://u:" + secret + "%zz@h/db", // invalid escape in the password
		"postgres://u:" + secret[:3] + "/" + secret[3:] + "@h:5432/db", // unescaped '/' in the password
		"u:" + secret[:3] + "#" + secret[3:] + "@h:5432/db",            // unescaped '#', Nakama form
		"postgres://u:" + secret + "@h:notaport/db",
		"postgres://u:" + secret + "@h/db?sslmode=bogus",
		"postgres://u:" + secret + "@h/db?pool_max_conns=many",
		"postgres://u@h/db?password=" + secret + "&sslmode=bogus",
	}
	for _, addr := range bad {
		_, err := parseConfig(addr)
		if err == nil {
			t.Errorf("parseConfig(%q) succeeded, want an error", addr)
			continue
		}
		msg := err.Error()
		t.Logf("%q: %s", addr, msg)
		if strings.Contains(msg, secret[:3]) || strings.Contains(msg, secret[3:]) {
			t.Errorf("parseConfig(%q) error shows the password: %s", addr, msg)
		}
		if !strings.HasPrefix(msg, "postgres: ") {
			t.Errorf("parseConfig(%q) error = %q, want a postgres: prefix", addr, msg)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:" + secret + "@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgres://u@h:5432/db", "postgres://u@h:5432/db"},
		{"postgres://h/db?password=" + secret + "&sslmode=disable", "postgres://h/db?password=xxxxx&sslmode=disable"},
		{"u:" + secret + "@h:5432/db", "u:xxxxx@h:5432/db"},
		{"u@h:5432/db", "u@h:5432/db"},
		{"localhost:5432", "localhost:5432"},
		// A password that breaks URL parsing is masked up to the last '@'.
		{"postgres://u:" + secret + "/x@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgres://u:12?" + secret + "@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:" + secret + "%zz@h/db", "postgres://u:xxxxx@h/db"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	clearPGEnv(t)
	for in, want := range map[string]string{
		"gamer:" + secret + "@db.example.com:6543/game":              "gamer@db.example.com:6543/game",
		"postgres://gamer:" + secret + "@[::1]:5432?sslmode=disable": "gamer@[::1]:5432/latchkey",
	} {
		st, err := Open(t.Context(), in)
		if err != nil {
			t.Fatalf("Open(%q): %v", in, err)
		}
		if got := st.Describe(); got != want {
			t.Errorf("Describe() for %q = %q, want %q", in, got, want)
		}
		st.Close()
	}
}
