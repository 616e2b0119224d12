// Package social verifies platform sign-in credentials (Apple, Google, Facebook, Facebook Instant Games,
// Steam, Game Center) against the providers themselves and returns the platform identity they prove.
package social

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Errors returned by every verification. They are wrapped with a short reason that names the provider and
// never the credential, a key or a secret, so the reason may be logged as it is.
var (
	// ErrNotConfigured means the server lacks the setting a provider needs; the message names the key.
	ErrNotConfigured = errors.New("social sign-in not configured")
	// ErrInvalid means the credential is refused: forged, expired, for another audience or issuer,
	// malformed, or rejected by the provider. Asking again with the same credential will not help.
	ErrInvalid = errors.New("invalid social credential")
	// ErrUnavailable means the provider could not give an answer: it is down, slow, or said something that
	// cannot be understood. The same credential may work later.
	ErrUnavailable = errors.New("social provider unavailable")
)

// Provider endpoints used when the configuration names none.
const (
	DefaultAppleKeysURL                = "https://appleid.apple.com/auth/keys"
	DefaultGoogleKeysURL               = "https://www.googleapis.com/oauth2/v3/certs"
	DefaultFacebookGraphURL            = "https://graph.facebook.com"
	DefaultFacebookLimitedLoginKeysURL = "https://limited.facebook.com/.well-known/oauth/openid/jwks/"
	DefaultSteamAPIURL                 = "https://partner.steam-api.com"
	DefaultTimeout                     = 5 * time.Second
)

// DefaultGameCenterKeyHostSuffixes are the hosts a Game Center public_key_url may name when the
// configuration names none: Apple's, as Nakama allows.
var DefaultGameCenterKeyHostSuffixes = []string{".apple.com"}

// Config holds the provider settings, under Nakama's social.* keys where Nakama has one.
type Config struct {
	// Apple: social.apple.bundle_id is the audience of Sign in with Apple tokens.
	Apple struct {
		BundleID string
		KeysURL  string
	}
	// Google: social.google.client_ids lists the OAuth client ids accepted as audience.
	Google struct {
		ClientIDs []string
		KeysURL   string
	}
	// Facebook: classic login access tokens are checked with the Graph API.
	Facebook struct {
		GraphURL string
	}
	// FacebookLimitedLogin: social.facebook_limited_login.app_id is the audience of Limited Login tokens.
	FacebookLimitedLogin struct {
		AppID   string
		KeysURL string
	}
	// FacebookInstantGame: social.facebook_instant_game.app_secret signs signed_player_info.
	FacebookInstantGame struct {
		AppSecret string
	}
	// Steam: social.steam.publisher_key and social.steam.app_id.
	Steam struct {
		PublisherKey string
		AppID        int
		APIURL       string
	}
	// GameCenter: the hosts a public_key_url may use. An entry starting with "." is a domain suffix and
	// matches a host on the default port only; any other entry must equal the URL's host[:port] exactly.
	GameCenter struct {
		KeyHostSuffixes []string
	}
	// CAFile names a PEM file of extra roots trusted for provider HTTPS, beside the system roots.
	CAFile string
	// Timeout bounds each provider call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Identity is what a verified credential proves.
type Identity struct {
	ID        string // the platform user id stored on the account
	Email     string
	Name      string
	AvatarURL string
}

// GameCenterCredential is what a Game Center client sends: the result of Apple's identity verification
// signature call. Salt and Signature are standard base64, as clients send them.
type GameCenterCredential struct {
	PlayerID         string
	BundleID         string
	TimestampSeconds int64
	Salt             string
	Signature        string
	PublicKeyURL     string
}

// Verifier checks credentials with the providers. It caches provider keys and certificates and is safe for
// concurrent use.
type Verifier struct {
	cfg     Config
	clock   func() time.Time
	log     *slog.Logger
	client  *http.Client
	timeout time.Duration
	keys    *cache[keySet]            // JSON Web Key Sets by URL
	certs   *cache[*x509.Certificate] // Game Center certificates by URL
}

// Cache sizes: one key set per JWT provider, and a bounded number of Game Center certificates (Apple
// uses one URL at a time, so a handful is plenty; the bound stops clients filling memory with URLs).
const (
	maxKeySets = 8
	maxCerts   = 64
)

// New returns a Verifier for cfg. clock decides token expiry and cache lifetimes (nil means time.Now);
// logger receives provider outages and key refreshes (nil discards them). It fails for an unreadable
// CAFile or an endpoint that is not an https URL.
func New(cfg Config, clock func() time.Time, logger *slog.Logger) (*Verifier, error) {
	if clock == nil {
		clock = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = withDefaults(cfg)
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	roots, err := rootPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, clock: clock, log: logger, client: newClient(roots), timeout: cfg.Timeout}
	v.keys = newCache(clock, maxKeySets, v.fetchKeySet)
	v.certs = newCache(clock, maxCerts, v.fetchCertificate)
	return v, nil
}

func withDefaults(cfg Config) Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.Apple.KeysURL, DefaultAppleKeysURL)
	def(&cfg.Google.KeysURL, DefaultGoogleKeysURL)
	def(&cfg.Facebook.GraphURL, DefaultFacebookGraphURL)
	def(&cfg.FacebookLimitedLogin.KeysURL, DefaultFacebookLimitedLoginKeysURL)
	def(&cfg.Steam.APIURL, DefaultSteamAPIURL)
	cfg.Facebook.GraphURL = strings.TrimRight(cfg.Facebook.GraphURL, "/")
	cfg.Steam.APIURL = strings.TrimRight(cfg.Steam.APIURL, "/")
	cfg.Google.ClientIDs = slices.Clone(cfg.Google.ClientIDs)
	if len(cfg.GameCenter.KeyHostSuffixes) == 0 {
		cfg.GameCenter.KeyHostSuffixes = DefaultGameCenterKeyHostSuffixes
	}
	suffixes := make([]string, len(cfg.GameCenter.KeyHostSuffixes))
	for i, s := range cfg.GameCenter.KeyHostSuffixes {
		suffixes[i] = strings.ToLower(strings.TrimSpace(s))
	}
	cfg.GameCenter.KeyHostSuffixes = suffixes
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

func checkConfig(cfg Config) error {
	var problems []string
	for _, e := range []struct{ key, value string }{
		{"social.apple.keys_url", cfg.Apple.KeysURL},
		{"social.google.keys_url", cfg.Google.KeysURL},
		{"social.facebook.graph_url", cfg.Facebook.GraphURL},
		{"social.facebook_limited_login.keys_url", cfg.FacebookLimitedLogin.KeysURL},
		{"social.steam.api_url", cfg.Steam.APIURL},
	} {
		if u, err := url.Parse(e.value); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			problems = append(problems, e.key+" must be an https URL")
		}
	}
	for _, s := range cfg.GameCenter.KeyHostSuffixes {
		if s == "" || s == "." || strings.ContainsAny(s, "/@ ") {
			problems = append(problems, fmt.Sprintf("social.gamecenter.key_host_suffixes: %q is not a host or domain suffix", s))
		}
	}
	if cfg.Timeout < 0 {
		problems = append(problems, "social.timeout_ms must not be negative")
	}
	if cfg.Steam.AppID < 0 {
		problems = append(problems, "social.steam.app_id must not be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("social: %s", strings.Join(problems, "; "))
	}
	return nil
}

// rootPool is the system roots plus the certificates of caFile, if named.
func rootPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("social: social.ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("social: social.ca_file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// invalid and unavailable build the errors the provider files return: the sentinel, the provider, and a
// reason that must never contain the credential or a secret.
func invalid(provider, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, provider, fmt.Sprintf(format, args...))
}

func unavailable(provider, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, provider, fmt.Sprintf(format, args...))
}

// callerGone is the error for a call whose context ended first; it wraps the context's error.
func callerGone(ctx context.Context, provider string) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, provider, ctx.Err())
}

func notConfigured(what, key string) error {
	return fmt.Errorf("%w: %s needs %s", ErrNotConfigured, what, key)
}
