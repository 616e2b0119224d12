package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Default returns the configuration used when nothing is set. Values match Nakama's defaults where Nakama has
// the setting, including its insecure default keys, which Warnings reports.
func Default() Config {
	return Config{
		Name:             "latchkey",
		DataDir:          "./data",
		ShutdownGraceSec: 10,
		Socket: SocketConfig{
			Address:             "",
			Port:                7350,
			ServerKey:           "defaultkey",
			MaxRequestSizeBytes: 262144,
			IdleTimeoutMs:       60000,
			ReadTimeoutMs:       10000,
			WriteTimeoutMs:      10000,
			// Nakama's socket defaults.
			MaxMessageSizeBytes:  4096,
			ReadBufferSizeBytes:  4096,
			WriteBufferSizeBytes: 4096,
			PingPeriodMs:         15000,
			PongWaitMs:           25000,
			WriteWaitMs:          5000,
			OutgoingQueueSize:    64,
			CloseOnRevoke:        true,
			MaxSocketsPerUser:    16,
			MaxSockets:           50000,
		},
		Session: SessionConfig{
			EncryptionKey:         "defaultencryptionkey",
			TokenExpirySec:        60,
			RefreshEncryptionKey:  "defaultrefreshencryptionkey",
			RefreshTokenExpirySec: 3600,
			SingleSession:         false,
			SingleSocket:          false,
			RefreshRotation:       false,
			RefreshReuseGraceSec:  10,
			MaxSessionsPerUser:    100,
			EventRetentionDays:    90,
			EventsPerHour:         10,
		},
		Runtime: RuntimeConfig{
			HTTPKey: "defaulthttpkey", CallTimeoutMs: 5000,
			// Nakama's path is data_dir/modules; its pools start at 16 and grow to 48. Latchkey starts smaller,
			// since each VM holds a copy of the module, and grows on demand.
			Path: "", JSEntrypoint: "", JSMinCount: 2, JSMaxCount: 32, LuaMinCount: 2, LuaMaxCount: 32,
		},
		Database: DatabaseConfig{},
		Logger:   LoggerConfig{Level: "info", Format: "text", Stdout: true, MaxSize: 100, RequestLevel: "debug"},
		Metrics:  MetricsConfig{PrometheusPort: 0, Prefix: "latchkey"},
		Admin:    AdminConfig{Address: "127.0.0.1", Port: 7352},
		Tickets:  TicketsConfig{Algorithm: "EdDSA", TTLSec: 30, MaxTTLSec: 300, Issuer: "latchkey", KeyRotationSec: 86400},
		Photon: PhotonConfig{Path: "/photon/auth", TokenParam: "token", SecretParam: "secret", Audience: "photon",
			AcceptSessionTokens: true},
		// BcryptCost is 13 because Nakama hashes with max(bcrypt.DefaultCost, 13), so 13 is what its stored
		// hashes use.
		Auth: AuthConfig{BcryptCost: 13, MaxConcurrentHashes: 0, MaxHashQueue: 32, MaxHashWaitMs: 1000},
		Social: SocialConfig{
			Steam:                SteamConfig{APIURL: "https://partner.steam-api.com"},
			FacebookLimitedLogin: FacebookLimitedLoginConfig{KeysURL: "https://limited.facebook.com/.well-known/oauth/openid/jwks/"},
			Apple:                AppleConfig{KeysURL: "https://appleid.apple.com/auth/keys"},
			Google:               GoogleConfig{KeysURL: "https://www.googleapis.com/oauth2/v3/certs"},
			Facebook:             FacebookConfig{GraphURL: "https://graph.facebook.com"},
			GameCenter:           GameCenterConfig{KeyHostSuffixes: StringList{".apple.com"}},
			TimeoutMs:            5000,
		},
		// Generous for players sharing an address behind a NAT: a client logs in once and refreshes about
		// once a session-token lifetime, and the bursts hold a whole NAT reconnecting at once (and the
		// nakama-js compatibility suite, whose busiest server takes about 170 calls of either kind from
		// 127.0.0.1 within two seconds). Bursts beyond bcrypt's capacity are admission control's to
		// answer. Each of the three tables (auth and refresh addresses, accounts) holds about 17 MB when
		// full at 100 000 keys.
		Limits: LimitsConfig{
			AuthRatePerSec: 10, AuthBurst: 200, RefreshRatePerSec: 20, RefreshBurst: 200, SocketRatePerSec: 10, SocketBurst: 200,
			MaxTrackedIPs:   100000,
			LockoutFailures: 10, LockoutWindowSec: 900, LockoutMinSec: 1, LockoutMaxSec: 300, MaxTrackedAccounts: 100000,
		},
	}
}

// ListenAddr returns the host:port the client-facing listener binds, for net.Listen. An empty socket.address
// gives ":port", which is every interface.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Socket.Address, strconv.Itoa(c.Socket.Port))
}

// DatabaseAddress returns the first database.address entry, or "" for the embedded SQLite database.
func (c Config) DatabaseAddress() string {
	return c.Database.Address.First()
}

// RuntimePath returns the directory of JavaScript and Lua modules: runtime.path, or data_dir/modules as in
// Nakama.
func (c Config) RuntimePath() string {
	if c.Runtime.Path != "" {
		return c.Runtime.Path
	}
	return filepath.Join(c.DataDir, "modules")
}

// Env returns runtime.env as a map. Each entry is split at its first "="; a later entry for the same key wins,
// so a flag can override a file's entry. Entries without "=" are skipped here and reported by Validate.
func (c Config) Env() map[string]string {
	env := make(map[string]string, len(c.Runtime.Env))
	for _, e := range c.Runtime.Env {
		if k, v, ok := strings.Cut(e, "="); ok {
			env[k] = v
		}
	}
	return env
}
