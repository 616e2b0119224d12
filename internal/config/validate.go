package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/limits"
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
	for _, t := range []struct {
		name string
		v    int64
	}{
		{"socket.max_message_size_bytes", s.MaxMessageSizeBytes},
		{"socket.read_buffer_size_bytes", int64(s.ReadBufferSizeBytes)},
		{"socket.write_buffer_size_bytes", int64(s.WriteBufferSizeBytes)},
		{"socket.ping_period_ms", int64(s.PingPeriodMs)},
		{"socket.pong_wait_ms", int64(s.PongWaitMs)},
		{"socket.write_wait_ms", int64(s.WriteWaitMs)},
		{"socket.outgoing_queue_size", int64(s.OutgoingQueueSize)},
	} {
		if t.v < 1 {
			add("%s: must be at least 1, got %d", t.name, t.v)
		}
	}
	if s.MaxSocketsPerUser < 0 {
		add("socket.max_sockets_per_user: must not be negative, got %d", s.MaxSocketsPerUser)
	}
	if s.MaxSockets < 0 {
		add("socket.max_sockets: must not be negative, got %d", s.MaxSockets)
	}
	// The client answers each ping with a pong; a ping period at or past the pong wait would close every
	// quiet but healthy socket.
	if s.PingPeriodMs >= 1 && s.PongWaitMs >= 1 && s.PingPeriodMs >= s.PongWaitMs {
		add("socket.ping_period_ms: must be less than socket.pong_wait_ms (%d), got %d", s.PongWaitMs, s.PingPeriodMs)
	}

	for _, p := range []struct {
		name     string
		min, max int
	}{
		{"runtime.js", c.Runtime.JSMinCount, c.Runtime.JSMaxCount},
		{"runtime.lua", c.Runtime.LuaMinCount, c.Runtime.LuaMaxCount},
	} {
		if p.min < 0 {
			add("%s_min_count: must not be negative, got %d", p.name, p.min)
		}
		if p.max < 1 || p.max < p.min {
			add("%s_max_count: must be at least 1 and at least %s_min_count (%d), got %d", p.name, p.name, p.min, p.max)
		}
	}
	if c.Social.TimeoutMs < 1 {
		add("social.timeout_ms: must be at least 1, got %d", c.Social.TimeoutMs)
	}
	if c.Social.Steam.AppID < 0 {
		add("social.steam.app_id: must not be negative, got %d", c.Social.Steam.AppID)
	}

	ss := c.Session
	if ss.EncryptionKey == "" {
		add("session.encryption_key: must not be empty")
	}
	if ss.RefreshEncryptionKey == "" {
		add("session.refresh_encryption_key: must not be empty")
	}
	sessionSecrets := append([]namedSecret{{"session.encryption_key", ss.EncryptionKey}},
		checkKeyring(add, "session.signing_keys", "session.active_key", ss.SigningKeys, ss.ActiveKey)...)
	refreshSecrets := append([]namedSecret{{"session.refresh_encryption_key", ss.RefreshEncryptionKey}},
		checkKeyring(add, "session.refresh_signing_keys", "session.refresh_active_key", ss.RefreshSigningKeys, ss.RefreshActiveKey)...)
	// Session and refresh tokens are told apart only by the key that verifies them, so no secret may verify
	// both kinds. Each clash is reported once, under the refresh key's name.
	sessionBySecret := map[string]string{}
	for _, s := range sessionSecrets {
		if _, seen := sessionBySecret[s.secret]; !seen && s.secret != "" {
			sessionBySecret[s.secret] = s.name
		}
	}
	for _, r := range refreshSecrets {
		if other, clash := sessionBySecret[r.secret]; clash {
			add("%s: must differ from %s", r.name, other)
		}
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

	c.validateOperations(add)

	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		add("auth.bcrypt_cost: must be between 4 and 31, got %d", c.Auth.BcryptCost)
	}
	if ss.RefreshReuseGraceSec < 0 {
		add("session.refresh_reuse_grace_sec: must not be negative, got %d", ss.RefreshReuseGraceSec)
	}
	if ss.MaxSessionsPerUser < 0 {
		add("session.max_sessions_per_user: must not be negative, got %d", ss.MaxSessionsPerUser)
	}
	if ss.EventsPerHour < 0 {
		add("session.events_per_hour: must not be negative, got %d", ss.EventsPerHour)
	}
	if ss.EventRetentionDays < 1 {
		add("session.event_retention_days: must be at least 1, got %d", ss.EventRetentionDays)
	}
	if c.Runtime.CallTimeoutMs < 1 {
		add("runtime.call_timeout_ms: must be at least 1, got %d", c.Runtime.CallTimeoutMs)
	}
	if c.Auth.MaxConcurrentHashes < 0 {
		add("auth.max_concurrent_hashes: must not be negative, got %d", c.Auth.MaxConcurrentHashes)
	}
	c.validateLimits(add)
	if a := c.Debug.PprofAddress; a != "" {
		if err := checkLoopbackAddress(a); err != nil {
			add("debug.pprof_address: %v", err)
		}
	}
	return errorOf(p)
}

// checkLoopbackAddress checks that addr is host:port for a listener that only this machine can reach: the
// host is "localhost" or a loopback IP address (127.0.0.0/8, ::1), and the port a number.
func checkLoopbackAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port on a loopback address, such as 127.0.0.1:6060, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("the port must be a number between 0 and 65535, got %q", port)
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.WithZone("").Unmap().IsLoopback() {
		return fmt.Errorf("must be a loopback address (127.0.0.0/8, ::1 or localhost), since profiles show the server's "+
			"code, memory and command line; got host %q", host)
	}
	return nil
}

// validateLimits checks the abuse limits: auth.max_hash_* and the limits section.
func (c Config) validateLimits(add func(string, ...any)) {
	if c.Auth.MaxHashQueue < 1 {
		add("auth.max_hash_queue: must be at least 1, got %d", c.Auth.MaxHashQueue)
	}
	if c.Auth.MaxHashWaitMs < 1 {
		add("auth.max_hash_wait_ms: must be at least 1, got %d", c.Auth.MaxHashWaitMs)
	} else if w := c.Socket.WriteTimeoutMs; w > 0 && c.Auth.MaxHashWaitMs >= w {
		// A request still waiting for bcrypt when its deadline passes gets no answer at all.
		add("auth.max_hash_wait_ms: must be less than socket.write_timeout_ms (%d), got %d", w, c.Auth.MaxHashWaitMs)
	}
	l := c.Limits
	for _, b := range []struct {
		name        string
		rate, burst int
	}{
		{"auth", l.AuthRatePerSec, l.AuthBurst},
		{"refresh", l.RefreshRatePerSec, l.RefreshBurst},
		{"socket", l.SocketRatePerSec, l.SocketBurst},
	} {
		if b.rate < 0 {
			add("limits.%s_rate_per_sec: must not be negative, got %d", b.name, b.rate)
		}
		if b.rate > 0 && b.burst < 1 {
			add("limits.%s_burst: must be at least 1, got %d", b.name, b.burst)
		}
	}
	for i, e := range l.TrustedProxies {
		if _, err := limits.ParseProxy(e); err != nil {
			add("limits.trusted_proxies[%d]: %v", i, err)
		}
	}
	if l.LockoutFailures < 0 {
		add("limits.lockout_failures: must not be negative, got %d", l.LockoutFailures)
	}
	for _, v := range []struct {
		name string
		v    int
	}{
		{"limits.max_tracked_ips", l.MaxTrackedIPs},
		{"limits.lockout_window_sec", l.LockoutWindowSec},
		{"limits.lockout_min_sec", l.LockoutMinSec},
		{"limits.max_tracked_accounts", l.MaxTrackedAccounts},
	} {
		if v.v < 1 {
			add("%s: must be at least 1, got %d", v.name, v.v)
		}
	}
	if l.LockoutMaxSec < l.LockoutMinSec || l.LockoutMaxSec < 1 {
		add("limits.lockout_max_sec: must be at least 1 and at least limits.lockout_min_sec (%d), got %d", l.LockoutMinSec, l.LockoutMaxSec)
	}
}

// minSigningKeyBytes is the shortest secret accepted in a keyring: RFC 7518 (section 3.2) requires an HS256 key
// at least as long as the hash output, 256 bits.
const minSigningKeyBytes = 32

// namedSecret is a secret with the name of the setting it came from, so that messages can name it instead.
type namedSecret struct {
	name, secret string
}

// checkKeyring reports the problems of one kind of token's keyring, the entries of listName and the id in
// activeName, through add. It returns the entries' secrets, named by entry, for the check across kinds.
// Messages name entries by index and never quote them: a mistyped entry may be all secret.
func checkKeyring(add func(string, ...any), listName, activeName string, entries StringList, active string) []namedSecret {
	var secrets []namedSecret
	ids := map[string]int{} // every id written, valid or not, to its first entry
	for i, e := range entries {
		name := fmt.Sprintf("%s[%d]", listName, i)
		k, ok := ParseSigningKey(e)
		if !ok {
			add("%s: must be ID:SECRET", name)
			continue
		}
		if first, dup := ids[k.ID]; dup {
			add("%s: id is already used by %s[%d]", name, listName, first)
		} else {
			ids[k.ID] = i
			if !validKeyID(k.ID) {
				add("%s: id must be 1 to 64 letters, digits, '.', '_' or '-'", name)
			}
		}
		switch {
		case k.Secret == "":
			add("%s: secret must not be empty", name)
			continue
		case len(k.Secret) < minSigningKeyBytes:
			add("%s: secret must be at least %d bytes", name, minSigningKeyBytes)
		}
		secrets = append(secrets, namedSecret{name, k.Secret})
	}
	_, known := ids[active]
	switch {
	case len(entries) == 0 && active != "":
		add("%s: must be empty when %s is empty", activeName, listName)
	case len(entries) > 0 && active == "":
		add("%s: must be set to the id of the %s entry that signs new tokens", activeName, listName)
	case len(entries) > 0 && !known:
		add("%s: must be the id of an entry in %s", activeName, listName)
	}
	return secrets
}

// validKeyID reports whether id is a usable kid: 1 to 64 characters from [A-Za-z0-9._-].
func validKeyID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Warnings returns one message per key still at Nakama's published default, which anyone can look up, one per
// token encryption key shorter than a keyring allows, and, last, one naming every Nakama setting that Load
// accepted but Latchkey does not use. Messages name keys, never their values.
func (c Config) Warnings() []string {
	def := Default()
	var w []string
	for _, s := range []struct {
		name, got, dflt, risk string
		keyring               string // for a token key: the keyring to sign with instead of a short key
	}{
		{"socket.server_key", c.Socket.ServerKey, def.Socket.ServerKey, "any client can authenticate", ""},
		{"runtime.http_key", c.Runtime.HTTPKey, def.Runtime.HTTPKey, "anyone can make server-to-server calls", ""},
		{"session.encryption_key", c.Session.EncryptionKey, def.Session.EncryptionKey, "anyone can forge session tokens", "session.signing_keys"},
		{"session.refresh_encryption_key", c.Session.RefreshEncryptionKey, def.Session.RefreshEncryptionKey, "anyone can forge refresh tokens", "session.refresh_signing_keys"},
	} {
		switch {
		case s.got == s.dflt:
			w = append(w, fmt.Sprintf("%s is still Nakama's published default, so %s; set a value of your own", s.name, s.risk))
		case s.keyring != "" && s.got != "" && len(s.got) < minSigningKeyBytes:
			// A short key is not an error, so that a studio moving from Nakama can keep verifying the
			// tokens its players already hold.
			w = append(w, fmt.Sprintf("%s is shorter than %d bytes, which makes forging tokens by guessing it easier; "+
				"sign with %s, and once the tokens this key signed have expired, replace it with %d or more random bytes",
				s.name, minSigningKeyBytes, s.keyring, minSigningKeyBytes))
		}
	}
	if msg := ignoredWarning(c.ignored); msg != "" {
		w = append(w, msg)
	}
	return w
}
