package config

import (
	"strings"
	"testing"
)

func TestLimitsDefaults(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := LimitsConfig{
		AuthRatePerSec: 10, AuthBurst: 200, RefreshRatePerSec: 20, RefreshBurst: 200, MaxTrackedIPs: 100000,
		LockoutFailures: 10, LockoutWindowSec: 900, LockoutMinSec: 1, LockoutMaxSec: 300, MaxTrackedAccounts: 100000,
		SocketRatePerSec: 10, SocketBurst: 200,
	}
	got := c.Limits
	got.TrustedProxies = nil
	if got.AuthRatePerSec != want.AuthRatePerSec || got.AuthBurst != want.AuthBurst || got.RefreshRatePerSec != want.RefreshRatePerSec ||
		got.RefreshBurst != want.RefreshBurst || got.MaxTrackedIPs != want.MaxTrackedIPs || got.LockoutFailures != want.LockoutFailures ||
		got.LockoutWindowSec != want.LockoutWindowSec || got.LockoutMinSec != want.LockoutMinSec ||
		got.LockoutMaxSec != want.LockoutMaxSec || got.MaxTrackedAccounts != want.MaxTrackedAccounts ||
		got.SocketRatePerSec != want.SocketRatePerSec || got.SocketBurst != want.SocketBurst {
		t.Errorf("limits defaults = %+v, want %+v", got, want)
	}
	if len(c.Limits.TrustedProxies) != 0 {
		t.Errorf("trusted proxies by default: %v", c.Limits.TrustedProxies)
	}
	if c.Socket.MaxSocketsPerUser != 16 || c.Socket.MaxSockets != 50000 {
		t.Errorf("socket.max_sockets_per_user, max_sockets = %d, %d; want 16, 50000", c.Socket.MaxSocketsPerUser, c.Socket.MaxSockets)
	}
	if c.Auth.MaxHashQueue != 32 || c.Auth.MaxHashWaitMs != 1000 {
		t.Errorf("auth.max_hash_queue, max_hash_wait_ms = %d, %d; want 32, 1000", c.Auth.MaxHashQueue, c.Auth.MaxHashWaitMs)
	}
}

func TestLoadLimits(t *testing.T) {
	file := writeFile(t, "limits.yaml", `
limits:
  auth_rate_per_sec: 0
  trusted_proxies: ["10.0.0.0/8", "192.0.2.7"]
auth:
  max_hash_queue: 8
`)
	c, _, err := Load([]string{"--config", file, "--limits.trusted_proxies", "2001:db8::/32", "--limits.lockout_failures=3"},
		env(map[string]string{"LATCHKEY_LIMITS_REFRESH_BURST": "5", "LATCHKEY_AUTH_MAX_HASH_WAIT_MS": "250"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.AuthRatePerSec != 0 || c.Limits.RefreshBurst != 5 || c.Limits.LockoutFailures != 3 || c.Auth.MaxHashQueue != 8 || c.Auth.MaxHashWaitMs != 250 {
		t.Errorf("loaded %+v, auth %+v", c.Limits, c.Auth)
	}
	// A flag's list replaces the file's, as for every list key.
	if got := strings.Join(c.Limits.TrustedProxies, " "); got != "2001:db8::/32" {
		t.Errorf("trusted_proxies = %q", got)
	}
}

func TestValidateLimits(t *testing.T) {
	c := Default()
	c.Auth.MaxHashQueue = 0
	c.Auth.MaxHashWaitMs = 10000 // not under socket.write_timeout_ms (10000)
	c.Limits.AuthRatePerSec = -1
	c.Limits.RefreshBurst = 0
	c.Limits.SocketRatePerSec = -2
	c.Limits.MaxTrackedIPs = 0
	c.Socket.MaxSocketsPerUser = -1
	c.Socket.MaxSockets = -1
	c.Limits.TrustedProxies = StringList{"10.0.0.0/8", "proxy.internal", "10.0.0.0/99"}
	c.Limits.LockoutFailures = -1
	c.Limits.LockoutWindowSec = 0
	c.Limits.LockoutMinSec = 10
	c.Limits.LockoutMaxSec = 5
	c.Limits.MaxTrackedAccounts = 0
	got := problems(t, c.Validate())
	want := []string{
		"socket.max_sockets_per_user: must not be negative",
		"socket.max_sockets: must not be negative",
		"auth.max_hash_queue:",
		"auth.max_hash_wait_ms: must be less than socket.write_timeout_ms",
		"limits.auth_rate_per_sec:",
		"limits.refresh_burst:",
		"limits.socket_rate_per_sec:",
		"limits.trusted_proxies[1]:",
		"limits.trusted_proxies[2]:",
		"limits.lockout_failures:",
		"limits.max_tracked_ips:",
		"limits.lockout_window_sec:",
		"limits.max_tracked_accounts:",
		"limits.lockout_max_sec:",
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}

	// Every limit off is a valid configuration.
	c = Default()
	c.Limits.AuthRatePerSec, c.Limits.AuthBurst, c.Limits.RefreshRatePerSec, c.Limits.RefreshBurst, c.Limits.LockoutFailures = 0, 0, 0, 0, 0
	c.Limits.SocketRatePerSec, c.Limits.SocketBurst, c.Socket.MaxSocketsPerUser, c.Socket.MaxSockets = 0, 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("limits off: %v", err)
	}
}
