package config

import (
	"fmt"
	"strings"
)

// Validate reports every problem with c at once, as an *Error, or returns nil. Problems start with the dotted
// key name and never quote a key's secret value.
func (c Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if c.Name == "" {
		add("name: must not be empty")
	}
	if c.Database.Address.First() == "" && c.DataDir == "" {
		add("data_dir: must not be empty when database.address is empty (the embedded database lives there)")
	}

	s := c.Socket
	if s.Port < 1 || s.Port > 65535 {
		add("socket.port: must be between 1 and 65535, got %d", s.Port)
	}
	if s.ServerKey == "" {
		add("socket.server_key: must not be empty")
	}
	if s.MaxRequestSizeBytes < 1024 {
		add("socket.max_request_size_bytes: must be at least 1024, got %d", s.MaxRequestSizeBytes)
	}
	for _, t := range []struct {
		name string
		ms   int
	}{
		{"socket.idle_timeout_ms", s.IdleTimeoutMs},
		{"socket.read_timeout_ms", s.ReadTimeoutMs},
		{"socket.write_timeout_ms", s.WriteTimeoutMs},
	} {
		if t.ms < 0 {
			add("%s: must not be negative, got %d", t.name, t.ms)
		}
	}

	ss := c.Session
	if ss.EncryptionKey == "" {
		add("session.encryption_key: must not be empty")
	}
	if ss.RefreshEncryptionKey == "" {
		add("session.refresh_encryption_key: must not be empty")
	}
	if ss.EncryptionKey != "" && ss.EncryptionKey == ss.RefreshEncryptionKey {
		// Session and refresh tokens are told apart only by the key that verifies them.
		add("session.refresh_encryption_key: must differ from session.encryption_key")
	}
	if ss.TokenExpirySec < 1 {
		add("session.token_expiry_sec: must be at least 1, got %d", ss.TokenExpirySec)
	}
	if ss.RefreshTokenExpirySec < 1 {
		add("session.refresh_token_expiry_sec: must be at least 1, got %d", ss.RefreshTokenExpirySec)
	}
	if ss.TokenExpirySec >= 1 && ss.RefreshTokenExpirySec >= 1 && ss.RefreshTokenExpirySec < ss.TokenExpirySec {
		add("session.refresh_token_expiry_sec: must be at least session.token_expiry_sec (%d), got %d",
			ss.TokenExpirySec, ss.RefreshTokenExpirySec)
	}

	if c.Runtime.HTTPKey == "" {
		add("runtime.http_key: must not be empty")
	}
	for i, e := range c.Runtime.Env {
		// The entry is not quoted: runtime.env often carries API keys.
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			add("runtime.env[%d]: must be KEY=VALUE with a non-empty KEY", i)
		}
	}

	switch c.Logger.Level {
	case "debug", "info", "warn", "error":
	default:
		add("logger.level: must be debug, info, warn or error, got %q", c.Logger.Level)
	}

	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		add("auth.bcrypt_cost: must be between 4 and 31, got %d", c.Auth.BcryptCost)
	}
	if c.Auth.MaxConcurrentHashes < 0 {
		add("auth.max_concurrent_hashes: must not be negative, got %d", c.Auth.MaxConcurrentHashes)
	}
	return errorOf(p)
}

// Warnings returns one message per key still at Nakama's published default, which anyone can look up. Messages
// name the key, never its value.
func (c Config) Warnings() []string {
	def := Default()
	var w []string
	for _, s := range []struct {
		name, got, dflt, risk string
	}{
		{"socket.server_key", c.Socket.ServerKey, def.Socket.ServerKey, "any client can authenticate"},
		{"runtime.http_key", c.Runtime.HTTPKey, def.Runtime.HTTPKey, "anyone can make server-to-server calls"},
		{"session.encryption_key", c.Session.EncryptionKey, def.Session.EncryptionKey, "anyone can forge session tokens"},
		{"session.refresh_encryption_key", c.Session.RefreshEncryptionKey, def.Session.RefreshEncryptionKey, "anyone can forge refresh tokens"},
	} {
		if s.got == s.dflt {
			w = append(w, fmt.Sprintf("%s is still Nakama's published default, so %s; set a value of your own", s.name, s.risk))
		}
	}
	return w
}
