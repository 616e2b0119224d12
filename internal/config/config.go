// Package config provides Latchkey's typed configuration, with Nakama's YAML key names, its defaults, its
// loading from file, environment and flags, and its validation.
package config

import "strings"

// Config is the whole server configuration. YAML keys (and the dotted flag and key names derived from them)
// match Nakama's where Nakama has the setting, so an existing Nakama config file loads.
type Config struct {
	Name    string `yaml:"name"`
	DataDir string `yaml:"data_dir"`
	// ShutdownGraceSec (Nakama's key) bounds the drain at shutdown: in-flight requests get this long to
	// finish, sockets get a close frame, and whatever is still running then is cut.
	ShutdownGraceSec int            `yaml:"shutdown_grace_sec"`
	Socket           SocketConfig   `yaml:"socket"`
	Session          SessionConfig  `yaml:"session"`
	Runtime          RuntimeConfig  `yaml:"runtime"`
	Database         DatabaseConfig `yaml:"database"`
	Logger           LoggerConfig   `yaml:"logger"`
	Auth             AuthConfig     `yaml:"auth"`
	Social           SocialConfig   `yaml:"social"`
	Limits           LimitsConfig   `yaml:"limits"`
	Debug            DebugConfig    `yaml:"debug"`
	Metrics          MetricsConfig  `yaml:"metrics"`
	Admin            AdminConfig    `yaml:"admin"`
	Tickets          TicketsConfig  `yaml:"tickets"`
	Photon           PhotonConfig   `yaml:"photon"`

	// ignored names the Nakama settings Latchkey does not use that Load met in files and flags (see
	// nakamaIgnored), sorted and without repeats, so that Warnings can report them. It is unexported, so it is
	// not a key, and it never holds a value: only the names.
	ignored []string
	// failed names the keys (dotted) whose value a source gave but Load could not apply, so that
	// LoadValid does not report a range problem of the value left in their place.
	failed []string
}

// SocketConfig is the client-facing HTTP listener.
type SocketConfig struct {
	Address             string `yaml:"address"`
	Port                int    `yaml:"port"`
	ServerKey           string `yaml:"server_key"`
	MaxRequestSizeBytes int64  `yaml:"max_request_size_bytes"`
	IdleTimeoutMs       int    `yaml:"idle_timeout_ms"`
	ReadTimeoutMs       int    `yaml:"read_timeout_ms"`
	WriteTimeoutMs      int    `yaml:"write_timeout_ms"`
	// SSLCertificate and SSLPrivateKey (Nakama's keys) are PEM files; set together, the client port serves
	// HTTPS and WSS only. The pair is read again on SIGHUP.
	SSLCertificate string `yaml:"ssl_certificate"`
	SSLPrivateKey  string `yaml:"ssl_private_key"`

	// The realtime socket (GET /ws), with Nakama's keys and defaults.
	MaxMessageSizeBytes  int64 `yaml:"max_message_size_bytes"`
	ReadBufferSizeBytes  int   `yaml:"read_buffer_size_bytes"`
	WriteBufferSizeBytes int   `yaml:"write_buffer_size_bytes"`
	PingPeriodMs         int   `yaml:"ping_period_ms"`
	PongWaitMs           int   `yaml:"pong_wait_ms"`
	WriteWaitMs          int   `yaml:"write_wait_ms"`
	OutgoingQueueSize    int   `yaml:"outgoing_queue_size"`
	// CloseOnRevoke (Latchkey) closes a socket when the session its token belongs to ends (logout, session
	// delete, reuse detection, single_session). Off: Nakama's behaviour, where only a ban, an account
	// deletion, single_socket or server code closes a socket.
	CloseOnRevoke bool `yaml:"close_on_revoke"`
	// MaxSocketsPerUser (Latchkey) caps a user's open sockets across the nodes: a new socket beyond it
	// closes the user's oldest, as single_socket does with a cap of one. 0 means no cap.
	MaxSocketsPerUser int `yaml:"max_sockets_per_user"`
	// MaxSockets (Latchkey) caps the sockets one node holds: beyond it a handshake is answered 503 with
	// Retry-After, so that a flood of sockets cannot take the node's memory. 0 means no cap.
	MaxSockets int `yaml:"max_sockets"`
}

// SessionConfig holds token keys and lifetimes.
//
// Without signing keys, tokens are signed and verified with EncryptionKey (or RefreshEncryptionKey) and carry
// no `kid` header, exactly as Nakama's. With signing keys, new tokens are signed with the active key and carry
// its id as their kid; tokens with a kid verify with the listed key of that id, and tokens without one still
// verify with the encryption key, so Nakama's tokens and those issued before the keyring keep working.
type SessionConfig struct {
	EncryptionKey string `yaml:"encryption_key"`
	// SigningKeys are "ID:SECRET" entries, split at the first colon (see ParseSigningKey).
	SigningKeys           StringList `yaml:"signing_keys"`
	ActiveKey             string     `yaml:"active_key"`
	TokenExpirySec        int64      `yaml:"token_expiry_sec"`
	RefreshEncryptionKey  string     `yaml:"refresh_encryption_key"`
	RefreshSigningKeys    StringList `yaml:"refresh_signing_keys"`
	RefreshActiveKey      string     `yaml:"refresh_active_key"`
	RefreshTokenExpirySec int64      `yaml:"refresh_token_expiry_sec"`
	SingleSession         bool       `yaml:"single_session"`
	// SingleSocket closes a user's older realtime sockets, on every node, when the user opens a new one.
	SingleSocket bool `yaml:"single_socket"`
	// RefreshRotation (Latchkey) makes every refresh supersede the refresh token it was given; a superseded
	// token presented after RefreshReuseGraceSec ends the whole session. Off: Nakama's behaviour.
	RefreshRotation      bool  `yaml:"refresh_rotation"`
	RefreshReuseGraceSec int64 `yaml:"refresh_reuse_grace_sec"`
	// MaxSessionsPerUser (Latchkey) caps a user's live sessions: a new one beyond it ends the oldest. 0 means
	// no cap.
	MaxSessionsPerUser int `yaml:"max_sessions_per_user"`
	// EventRetentionDays (Latchkey) is how long security events are kept.
	EventRetentionDays int `yaml:"event_retention_days"`
	// EventsPerHour (Latchkey) bounds the session_created and session_refreshed security events written
	// per account and kind in an hour on a node; the rest are counted into one summary event. 0 writes all.
	EventsPerHour int `yaml:"events_per_hour"`
	// AdoptNakamaRefreshTokens (Latchkey) lets a refresh token Nakama issued (no sid claim, signed with the
	// refresh key, its session unknown here) create its session on first refresh, for an account that exists
	// and is not banned: the live cut-over from Nakama. Off outside a migration window.
	AdoptNakamaRefreshTokens bool `yaml:"adopt_nakama_refresh_tokens"`
}

// SigningKey is one entry of session.signing_keys or session.refresh_signing_keys.
type SigningKey struct {
	ID     string // the token's kid header
	Secret string
}

// ParseSigningKey splits an "ID:SECRET" entry at its first colon, so the secret may itself hold colons. ok is
// false when there is no colon; k is then empty, because the whole entry may be a secret. It checks nothing
// else; Validate does.
func ParseSigningKey(entry string) (k SigningKey, ok bool) {
	id, secret, ok := strings.Cut(entry, ":")
	if !ok {
		return SigningKey{}, false
	}
	return SigningKey{ID: id, Secret: secret}, true
}

// RuntimeConfig configures server code and the HTTP key that server-to-server calls use.
type RuntimeConfig struct {
	HTTPKey string `yaml:"http_key"`
	// Env entries are "key=value" strings, exposed to server code as the `env` context value.
	Env []string `yaml:"env"`
	// CallTimeoutMs (Latchkey) bounds every hook and RPC call.
	CallTimeoutMs int `yaml:"call_timeout_ms"`
	// Path is the directory of JavaScript and Lua modules: the file named by JSEntrypoint, and every *.lua.
	Path         string `yaml:"path"`
	JSEntrypoint string `yaml:"js_entrypoint"`
	// JSMinCount and JSMaxCount bound the pool of JavaScript VMs: MinCount are made at start, more on demand
	// up to MaxCount, beyond which calls wait for a free VM (within their deadline).
	JSMinCount  int `yaml:"js_min_count"`
	JSMaxCount  int `yaml:"js_max_count"`
	LuaMinCount int `yaml:"lua_min_count"`
	LuaMaxCount int `yaml:"lua_max_count"`
}

// DatabaseConfig selects the store. An empty Address means the embedded SQLite database in DataDir.
type DatabaseConfig struct {
	// Address accepts, like Nakama's, a single string or a list in YAML; Latchkey uses the first entry.
	Address StringList `yaml:"address"`
	// CreateFresh (Latchkey, SQLite only) starts even though data_dir's marker file (latchkey.db.id) records a
	// store that the database file no longer holds (missing, empty, wiped or replaced): a missing or empty
	// database is created afresh, and the marker records whichever store the file then holds. Without it,
	// such a start stops with an error naming the files.
	CreateFresh bool `yaml:"create_fresh"`
}

// LoggerConfig sets logging, with Nakama's keys and defaults except Format (Nakama: json).
type LoggerConfig struct {
	Level string `yaml:"level"` // debug, info, warn, error; any case
	// Format is text (key=value, Latchkey's default, for people) or json (one object a line, Nakama's
	// default, for log collectors).
	Format string `yaml:"format"`
	// Stdout writes the log to the console. Latchkey writes it to standard error, where service managers
	// and container engines collect it (Nakama: standard output). False with an empty File logs nothing.
	Stdout bool   `yaml:"stdout"`
	File   string `yaml:"file"` // also write the log to this file; empty means none
	// Rotation rotates File when it reaches MaxSize megabytes, keeping MaxBackups old files (0: all) for
	// MaxAge days (0: no limit), named with LocalTime or UTC, gzipped with Compress. Nakama's keys.
	Rotation   bool `yaml:"rotation"`
	MaxSize    int  `yaml:"max_size"`
	MaxAge     int  `yaml:"max_age"`
	MaxBackups int  `yaml:"max_backups"`
	LocalTime  bool `yaml:"local_time"`
	Compress   bool `yaml:"compress"`
	// RequestLevel (Latchkey) is the level of the one line logged per HTTP request (method, route,
	// status, latency, client address, user id), or off.
	RequestLevel string `yaml:"request_level"`
}

// AuthConfig tunes password hashing. Not a Nakama section: Nakama hard-codes these.
type AuthConfig struct {
	// BcryptCost is the cost for new password hashes (4-31). Existing hashes of any cost verify.
	BcryptCost int `yaml:"bcrypt_cost"`
	// MaxConcurrentHashes bounds how many bcrypt operations run at once, so that a burst of email logins
	// cannot take every core away from token validation. 0 means half the CPUs, at least 1.
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`
	// MaxHashQueue bounds the requests waiting for a bcrypt slot and MaxHashWaitMs how long each waits,
	// well within the request deadline; beyond either the request is answered 503 at once, so that a burst
	// of logins is refused quickly instead of holding connections until they time out.
	MaxHashQueue  int `yaml:"max_hash_queue"`
	MaxHashWaitMs int `yaml:"max_hash_wait_ms"`
}

// LimitsConfig (Latchkey) bounds what one client can make the server do, since the server key that
// authenticate and refresh require ships in every game client: requests per client address, and password
// guesses per account. Rates of 0 and LockoutFailures 0 turn the respective limit off.
type LimitsConfig struct {
	// Token buckets per client address (an IPv6 client's /64) on authenticate, every kind together, and
	// on refresh: the sustained rate per second and the burst. Generous, since many players can share one
	// address behind a NAT.
	AuthRatePerSec    int `yaml:"auth_rate_per_sec"`
	AuthBurst         int `yaml:"auth_burst"`
	RefreshRatePerSec int `yaml:"refresh_rate_per_sec"`
	RefreshBurst      int `yaml:"refresh_burst"`
	// Realtime socket handshakes (GET /ws) per client address, as above.
	SocketRatePerSec int `yaml:"socket_rate_per_sec"`
	SocketBurst      int `yaml:"socket_burst"`
	// MaxTrackedIPs bounds the addresses tracked per limit; the least recently seen are forgotten.
	MaxTrackedIPs int `yaml:"max_tracked_ips"`
	// TrustedProxies are CIDR networks (or addresses) of reverse proxies: only from these peers is the
	// client address read from X-Forwarded-For.
	TrustedProxies StringList `yaml:"trusted_proxies"`
	// After LockoutFailures wrong passwords in a row for one account (each within LockoutWindowSec of the
	// previous), its password logins are refused for LockoutMinSec, doubling with each further wrong
	// password up to LockoutMaxSec, without running bcrypt.
	LockoutFailures    int `yaml:"lockout_failures"`
	LockoutWindowSec   int `yaml:"lockout_window_sec"`
	LockoutMinSec      int `yaml:"lockout_min_sec"`
	LockoutMaxSec      int `yaml:"lockout_max_sec"`
	MaxTrackedAccounts int `yaml:"max_tracked_accounts"`
}

// DebugConfig (Latchkey) holds what helps look inside a running server.
type DebugConfig struct {
	// PprofAddress is the host:port of a listener of its own that serves net/http/pprof's profiles. Empty
	// means off. It must be a loopback address: the profiles show the server's code, memory and command
	// line, so they are never served where clients could reach them.
	PprofAddress string `yaml:"pprof_address"`
}

// MetricsConfig is Nakama's metrics section: Prometheus metrics on a listener of their own, which also
// answers the liveness and readiness checks.
type MetricsConfig struct {
	// PrometheusPort serves GET /metrics, /livez and /readyz; 0 means off (Nakama's default).
	PrometheusPort int `yaml:"prometheus_port"`
	// Address (Latchkey) is the interface that listener binds; empty means every interface, as Nakama's.
	Address string `yaml:"address"`
	// Prefix starts every metric name (Nakama's key; Latchkey's default is latchkey).
	Prefix string `yaml:"prefix"`
}

// AdminConfig (Latchkey) is the admin HTTP API: account and session administration on a listener of its
// own, for operators' tools. It is off until a key is set.
type AdminConfig struct {
	Address string `yaml:"address"` // the interface it binds; loopback by default
	Port    int    `yaml:"port"`
	// Key is what callers send as `Authorization: Bearer KEY`; empty turns the admin API off.
	Key string `yaml:"key"`
}

// TicketsConfig (Latchkey) is join tickets: short-lived, one-time, asymmetrically signed JWTs a player hands
// to a game server in place of its session token, which the game server checks against the published keys
// (/.well-known/jwks.json), the introspection endpoint or the revocation feed.
type TicketsConfig struct {
	// Algorithm signs new ticket keys: EdDSA (Ed25519) or ES256 (ECDSA P-256).
	Algorithm string `yaml:"algorithm"`
	// TTLSec is a ticket's lifetime when the caller asks for none; MaxTTLSec the longest it may ask for.
	TTLSec    int `yaml:"ttl_sec"`
	MaxTTLSec int `yaml:"max_ttl_sec"`
	// Vars names the session variables copied into tickets; the others stay out.
	Vars StringList `yaml:"vars"`
	// Issuer is every ticket's iss claim.
	Issuer string `yaml:"issuer"`
	// KeyRotationSec is how old the signing key gets before a node makes a new one; older keys stay
	// published until the tickets they signed have expired.
	KeyRotationSec int `yaml:"key_rotation_sec"`
	// VerifierKeys are the keys game servers send (Authorization: Bearer KEY) to the introspection and
	// revocation-feed endpoints; none turns those two endpoints off.
	VerifierKeys StringList `yaml:"verifier_keys"`
}

// PhotonConfig (Latchkey) is the built-in Photon custom-authentication provider.
type PhotonConfig struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"` // the provider URL's path on the client port
	// TokenParam is the parameter (query, or field of a JSON body) holding the player's join ticket or
	// session token.
	TokenParam string `yaml:"token_param"`
	// Secret, when set, must arrive as the parameter SecretParam: set it as a dashboard parameter in
	// Photon, which clients can neither see nor override, so that only Photon can call the provider.
	Secret      string `yaml:"secret"`
	SecretParam string `yaml:"secret_param"`
	// Audience is the audience of the join tickets the provider accepts (and redeems).
	Audience string `yaml:"audience"`
	// AcceptSessionTokens also admits a player by its session token (Nakama's way); tickets are always accepted.
	AcceptSessionTokens bool `yaml:"accept_session_tokens"`
	// AuthCookieVars and DataVars name session variables answered in AuthCookie (seen by Photon's
	// webhooks, never by the client) and in Data (returned to the client).
	AuthCookieVars StringList `yaml:"auth_cookie_vars"`
	DataVars       StringList `yaml:"data_vars"`
}

// StringList is a YAML value that may be written as one string or a list of strings.
type StringList []string

// First returns the first entry, or "".
func (l StringList) First() string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// SocialConfig configures platform sign-in: Nakama's social.* keys, plus the provider endpoints (Latchkey),
// which default to the providers' own and can point at a local stand-in (tests) or through a proxy.
type SocialConfig struct {
	Steam                SteamConfig                `yaml:"steam"`
	FacebookInstantGame  FacebookInstantGameConfig  `yaml:"facebook_instant_game"`
	FacebookLimitedLogin FacebookLimitedLoginConfig `yaml:"facebook_limited_login"`
	Apple                AppleConfig                `yaml:"apple"`
	Google               GoogleConfig               `yaml:"google"`
	Facebook             FacebookConfig             `yaml:"facebook"`
	GameCenter           GameCenterConfig           `yaml:"gamecenter"`
	// CAFile is a PEM file of extra roots trusted for provider HTTPS (a proxy's or a test's CA).
	CAFile string `yaml:"ca_file"`
	// TimeoutMs bounds each call to a provider.
	TimeoutMs int `yaml:"timeout_ms"`
}

// SteamConfig is Nakama's social.steam.
type SteamConfig struct {
	PublisherKey string `yaml:"publisher_key"`
	AppID        int    `yaml:"app_id"`
	APIURL       string `yaml:"api_url"`
}

// FacebookInstantGameConfig is Nakama's social.facebook_instant_game.
type FacebookInstantGameConfig struct {
	AppSecret string `yaml:"app_secret"`
}

// FacebookLimitedLoginConfig is Nakama's social.facebook_limited_login.
type FacebookLimitedLoginConfig struct {
	AppID   string `yaml:"app_id"`
	KeysURL string `yaml:"keys_url"`
}

// AppleConfig is Nakama's social.apple.
type AppleConfig struct {
	BundleID string `yaml:"bundle_id"`
	KeysURL  string `yaml:"keys_url"`
}

// GoogleConfig (Latchkey) lists the OAuth client ids whose ID tokens are accepted (their audience).
type GoogleConfig struct {
	ClientIDs StringList `yaml:"client_ids"`
	KeysURL   string     `yaml:"keys_url"`
}

// FacebookConfig (Latchkey) is where Facebook access tokens are checked.
type FacebookConfig struct {
	GraphURL string `yaml:"graph_url"`
}

// GameCenterConfig (Latchkey) lists the host suffixes a Game Center public_key_url may use.
type GameCenterConfig struct {
	KeyHostSuffixes StringList `yaml:"key_host_suffixes"`
}
