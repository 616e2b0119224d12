package social_test

import (
	"context"
	"errors"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
	"github.com/latchkeyhq/latchkey/internal/testclock"
)

// env is one verifier against the stand-ins.
type env struct {
	p     *socialtest.Providers
	v     *social.Verifier
	clock *testclock.Clock
	logs  *servertest.LogBuffer
}

// newEnv builds a verifier for p's configuration, changed by edit if not nil. When the test ends it checks
// that the log holds none of p's secrets.
func newEnv(t *testing.T, p *socialtest.Providers, edit func(*social.Config)) *env {
	t.Helper()
	cfg := p.Config()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{p: p, clock: testclock.New(time.Now()), logs: &servertest.LogBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := social.New(cfg, e.clock.Now, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.v = v
	t.Cleanup(func() { assertNoSecret(t, "log", e.logs.String(), p.SteamPublisherKey, p.InstantGameSecret) })
	return e
}

// assertNoSecret fails the test if text contains any of secrets.
func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret or credential: %s", what, text)
		}
	}
}

// checkErr checks that err is want (nil for success) and that its text holds no secret.
func checkErr(t *testing.T, err, want error, secrets ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want success", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
	assertNoSecret(t, "error", err.Error(), secrets...)
}

func TestNewConfigErrors(t *testing.T) {
	p := socialtest.Start(t)
	empty := t.TempDir() + "/empty.pem"
	if err := os.WriteFile(empty, []byte("no certificate here"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*social.Config)
		want string
	}{
		{"missing CA file", func(c *social.Config) { c.CAFile = t.TempDir() + "/absent.pem" }, "social.ca_file"},
		{"CA file without PEM", func(c *social.Config) { c.CAFile = empty }, "social.ca_file"},
		{"http keys URL", func(c *social.Config) { c.Apple.KeysURL = "http://127.0.0.1/keys" }, "social.apple.keys_url"},
		{"relative graph URL", func(c *social.Config) { c.Facebook.GraphURL = "/graph" }, "social.facebook.graph_url"},
		{"bad host suffix", func(c *social.Config) { c.GameCenter.KeyHostSuffixes = []string{"evil.example/path"} }, "social.gamecenter.key_host_suffixes"},
		{"negative timeout", func(c *social.Config) { c.Timeout = -time.Second }, "social.timeout_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := p.Config()
			tt.edit(&cfg)
			_, err := social.New(cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want an error naming %s", err, tt.want)
			}
		})
	}
	if _, err := social.New(social.Config{}, nil, nil); err != nil {
		t.Fatalf("New with the zero Config: %v", err)
	}
}

// TestUntrustedServer checks that provider HTTPS is verified: without the stand-ins' CA the server's
// certificate is refused.
func TestUntrustedServer(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, func(c *social.Config) { c.CAFile = "" })
	_, err := e.v.Apple(context.Background(), p.AppleToken("001", socialtest.BundleID, time.Now().Add(time.Hour)))
	checkErr(t, err, social.ErrUnavailable)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("got %v, want a certificate error", err)
	}
}

func TestNotConfigured(t *testing.T) {
	p := socialtest.Start(t)
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*social.Config)
		call func(*social.Verifier) error
		key  string
	}{
		{"apple", func(c *social.Config) { c.Apple.BundleID = "" }, func(v *social.Verifier) error {
			_, err := v.Apple(ctx, "a.b.c")
			return err
		}, "social.apple.bundle_id"},
		{"google", func(c *social.Config) { c.Google.ClientIDs = nil }, func(v *social.Verifier) error {
			_, err := v.Google(ctx, "a.b.c")
			return err
		}, "social.google.client_ids"},
		{"facebook instant games", func(c *social.Config) { c.FacebookInstantGame.AppSecret = "" }, func(v *social.Verifier) error {
			_, err := v.FacebookInstantGame(ctx, "a.b")
			return err
		}, "social.facebook_instant_game.app_secret"},
		{"steam publisher key", func(c *social.Config) { c.Steam.PublisherKey = "" }, func(v *social.Verifier) error {
			_, err := v.Steam(ctx, "ticket")
			return err
		}, "social.steam.publisher_key"},
		{"steam app id", func(c *social.Config) { c.Steam.AppID = 0 }, func(v *social.Verifier) error {
			_, err := v.Steam(ctx, "ticket")
			return err
		}, "social.steam.app_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, p, tt.edit)
			err := tt.call(e.v)
			checkErr(t, err, social.ErrNotConfigured)
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("got %v, want it to name %s", err, tt.key)
			}
		})
	}
}

// credential mints a valid credential for one provider and verifies it.
type credential func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error)

// networkProviders are the providers whose verification calls a stand-in, with a valid credential each.
var networkProviders = []struct {
	provider socialtest.Provider
	mint     credential
}{
	{socialtest.Apple, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		tok := p.AppleToken("001122.apple", socialtest.BundleID, time.Now().Add(time.Hour))
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.Apple(ctx, tok) }
	}},
	{socialtest.Google, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		tok := p.GoogleToken("1098765", socialtest.GoogleClientID, time.Now().Add(time.Hour))
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.Google(ctx, tok) }
	}},
	{socialtest.FacebookLimited, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		tok := p.FacebookLimitedToken("4242", socialtest.FacebookAppID, time.Now().Add(time.Hour))
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.Facebook(ctx, tok) }
	}},
	{socialtest.Facebook, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		tok := p.FacebookAccessToken("4343", "Ann")
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.Facebook(ctx, tok) }
	}},
	{socialtest.Steam, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		ticket := p.SteamTicket("76561197960287930")
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.Steam(ctx, ticket) }
	}},
	{socialtest.GameCenter, func(p *socialtest.Providers) func(context.Context, *social.Verifier) (social.Identity, error) {
		c := p.GameCenter("T:_abc123", socialtest.BundleID, time.Now())
		return func(ctx context.Context, v *social.Verifier) (social.Identity, error) { return v.GameCenter(ctx, c) }
	}},
}

// TestProviderFailures makes each stand-in fail in each way and checks the error, that a slow provider
// costs about the timeout, and that the same verifier works once the provider is back.
func TestProviderFailures(t *testing.T) {
	p := socialtest.Start(t)
	const timeout = 300 * time.Millisecond
	for _, np := range networkProviders {
		verify := np.mint(p)
		for _, tt := range []struct {
			behavior socialtest.Behavior
			name     string
			want     error
		}{
			{socialtest.Down, "down", social.ErrUnavailable},
			{socialtest.Slow, "slow", social.ErrUnavailable},
			{socialtest.Malformed, "malformed", social.ErrUnavailable},
		} {
			if np.provider == socialtest.GameCenter && tt.behavior == socialtest.Malformed {
				// The certificate URL comes from the client: an answer that is no certificate refuses
				// the credential.
				tt.want = social.ErrInvalid
			}
			t.Run(string(np.provider)+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, p, func(c *social.Config) { c.Timeout = timeout })
				p.Set(np.provider, tt.behavior)
				start := time.Now()
				_, err := verify(context.Background(), e.v)
				elapsed := time.Since(start)
				p.Set(np.provider, socialtest.Normal)
				checkErr(t, err, tt.want, p.SteamPublisherKey)
				if elapsed > timeout+2*time.Second {
					t.Errorf("took %v with a timeout of %v", elapsed, timeout)
				}
				if tt.behavior == socialtest.Slow && elapsed < timeout {
					t.Errorf("slow provider answered in %v, before the %v timeout", elapsed, timeout)
				}
				if _, err := verify(context.Background(), e.v); err != nil {
					t.Fatalf("after the provider came back: %v", err)
				}
			})
		}
	}
}

// TestCallerCancel checks that a caller that gives up gets its own context's error at once, whether or not
// the call was shared through the key set cache.
func TestCallerCancel(t *testing.T) {
	p := socialtest.Start(t)
	for _, np := range networkProviders {
		if np.provider != socialtest.Google && np.provider != socialtest.Steam {
			continue
		}
		t.Run(string(np.provider), func(t *testing.T) {
			e := newEnv(t, p, nil)
			verify := np.mint(p)
			p.Set(np.provider, socialtest.Slow)
			defer p.Set(np.provider, socialtest.Normal)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := verify(ctx, e.v)
			checkErr(t, err, social.ErrUnavailable)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
			}
		})
	}
}
