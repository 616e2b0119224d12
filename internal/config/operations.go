package config

import (
	"strings"
)

// LogLevels are the names logger.level and logger.request_level take, in any case.
var LogLevels = []string{"debug", "info", "warn", "error"}

// validateOperations checks the settings of running the server as a service: logging, TLS, metrics,
// the admin API and shutdown.
func (c Config) validateOperations(add func(string, ...any)) {
	c.validateTrust(add)
	l := c.Logger
	if !isLevel(l.Level) {
		add("logger.level: must be debug, info, warn or error, got %q", l.Level)
	}
	if rl := strings.ToLower(l.RequestLevel); rl != "off" && !isLevel(rl) {
		add("logger.request_level: must be debug, info, warn, error or off, got %q", l.RequestLevel)
	}
	switch strings.ToLower(l.Format) {
	case "text", "json":
	default:
		add("logger.format: must be text or json, got %q", l.Format)
	}
	if l.Rotation && l.MaxSize < 1 {
		add("logger.max_size: must be at least 1 (megabytes) when logger.rotation is on, got %d", l.MaxSize)
	}
	if l.MaxAge < 0 {
		add("logger.max_age: must not be negative, got %d", l.MaxAge)
	}
	if l.MaxBackups < 0 {
		add("logger.max_backups: must not be negative, got %d", l.MaxBackups)
	}
	if l.Rotation && l.File == "" {
		add("logger.rotation: needs logger.file, the file to rotate")
	}

	if (c.Socket.SSLCertificate == "") != (c.Socket.SSLPrivateKey == "") {
		add("socket.ssl_certificate and socket.ssl_private_key: must be set together (HTTPS needs both), or neither")
	}
	if c.ShutdownGraceSec < 0 {
		add("shutdown_grace_sec: must not be negative, got %d", c.ShutdownGraceSec)
	}

	m := c.Metrics
	if m.PrometheusPort < 0 || m.PrometheusPort > 65535 {
		add("metrics.prometheus_port: must be between 0 (off) and 65535, got %d", m.PrometheusPort)
	}
	if m.Prefix != "" && !validMetricPrefix(m.Prefix) {
		add("metrics.prefix: must be letters, digits and underscores, not starting with a digit, got %q", m.Prefix)
	}

	a := c.Admin
	if a.Port < 1 || a.Port > 65535 {
		add("admin.port: must be between 1 and 65535, got %d", a.Port)
	}
	if a.Key != "" && len(a.Key) < 16 {
		add("admin.key: must be at least 16 characters (it grants every admin operation)")
	}
	ports := map[int]string{c.Socket.Port: "socket.port"}
	for _, p := range []struct {
		name string
		port int
		on   bool
	}{
		{"metrics.prometheus_port", m.PrometheusPort, m.PrometheusPort != 0},
		{"admin.port", a.Port, a.Key != ""},
	} {
		if !p.on {
			continue
		}
		if other, taken := ports[p.port]; taken {
			add("%s: must differ from %s (%d)", p.name, other, p.port)
			continue
		}
		ports[p.port] = p.name
	}
}

// validateTrust checks the settings of letting game servers trust players: join tickets and Photon.
func (c Config) validateTrust(add func(string, ...any)) {
	t := c.Tickets
	switch t.Algorithm {
	case "EdDSA", "ES256":
	default:
		add("tickets.algorithm: must be EdDSA or ES256, got %q", t.Algorithm)
	}
	if t.TTLSec < 1 {
		add("tickets.ttl_sec: must be at least 1, got %d", t.TTLSec)
	}
	if t.MaxTTLSec < t.TTLSec || t.MaxTTLSec > 3600 {
		add("tickets.max_ttl_sec: must be between tickets.ttl_sec (%d) and 3600, got %d", t.TTLSec, t.MaxTTLSec)
	}
	if t.KeyRotationSec < 60 {
		add("tickets.key_rotation_sec: must be at least 60, got %d", t.KeyRotationSec)
	}
	if t.Issuer == "" {
		add("tickets.issuer: must not be empty")
	}
	for i, k := range t.VerifierKeys {
		if len(k) < 16 {
			add("tickets.verifier_keys[%d]: must be at least 16 characters", i)
		}
	}
	p := c.Photon
	if p.Enabled {
		if !strings.HasPrefix(p.Path, "/") || strings.ContainsAny(p.Path, " {}") || strings.HasPrefix(p.Path, "/v2/") {
			add("photon.path: must start with / and not with /v2/, without spaces or braces, got %q", p.Path)
		}
		if p.TokenParam == "" {
			add("photon.token_param: must not be empty")
		}
		if p.Secret != "" && p.SecretParam == "" {
			add("photon.secret_param: must not be empty when photon.secret is set")
		}
		if p.Audience == "" {
			add("photon.audience: must not be empty")
		}
	}
}

func isLevel(s string) bool {
	s = strings.ToLower(s)
	for _, l := range LogLevels {
		if s == l {
			return true
		}
	}
	return false
}

func validMetricPrefix(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
