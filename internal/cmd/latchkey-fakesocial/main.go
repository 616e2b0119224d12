// Command latchkey-fakesocial runs the social sign-in stand-ins of package socialtest outside tests, for
// the compatibility suite: Apple, Google and Facebook Limited Login key sets, the Facebook Graph API,
// Steam's AuthenticateUserTicket and Game Center certificates, on one HTTPS server on 127.0.0.1 with keys
// made at start. It is not for production.
//
// On start it prints one JSON line on stdout and then serves until SIGINT or SIGTERM:
//
//	{"flags":["--social.apple.bundle_id","com.example.game",...,"--social.ca_file","/tmp/.../socialtest-ca.pem"],
//	 "control":"http://127.0.0.1:PORT","providers":"https://127.0.0.1:PORT"}
//
// flags are the latchkey flags that point its social sign-in at the stand-ins (-timeout sets the
// social.timeout_ms printed). control is a plain-HTTP API on loopback that mints credentials the stand-ins
// accept and steers them; requests and answers are JSON:
//
//	POST /mint/apple                {"sub", "aud"?, "exp"?}   → {"token"}  Sign in with Apple ID token
//	POST /mint/google               {"sub", "aud"?, "exp"?}   → {"token"}  Google ID token
//	POST /mint/facebooklimited      {"sub", "aud"?, "exp"?}   → {"token"}  Facebook Limited Login token
//	POST /mint/facebook             {"id", "name"?}           → {"token"}  Facebook access token (Graph API)
//	POST /mint/steam                {"steam_id"}              → {"token"}  Steam session ticket
//	POST /mint/facebookinstantgame  {"player_id", "secret"?}  → {"token"}  signed_player_info
//	POST /mint/gamecenter           {"player_id", "bundle_id"?, "timestamp_seconds"?}
//	                                → {"player_id", "bundle_id", "timestamp_seconds", "salt", "signature", "public_key_url"}
//	POST /behavior                  {"provider", "behavior": "normal"|"down"|"slow"|"malformed"} → 204
//	POST /rotate                    {"provider"}              → 204  a new signing key or certificate
//	GET  /hits                                                → {"apple": N, ...} requests each stand-in received
//
// aud defaults to the configured audience (bundle id, client id, app id), exp (Unix seconds) to ten minutes
// from now, bundle_id to the configured bundle id, timestamp_seconds to now, secret to the configured app
// secret. An unknown field or a missing required one is a 400 {"error"}.
//
// Providers are apple, google, facebook (Graph API), facebooklimited, steam and gamecenter.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

func main() {
	timeout := flag.Duration("timeout", social.DefaultTimeout, "the social.timeout_ms to print for latchkey")
	flag.Parse()
	if err := run(*timeout); err != nil {
		fmt.Fprintln(os.Stderr, "latchkey-fakesocial:", err)
		os.Exit(1)
	}
}

func run(timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "latchkey-fakesocial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := socialtest.New(dir)
	if err != nil {
		return err
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: controlAPI(p), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	cfg := p.Config()
	cfg.Timeout = timeout
	line, _ := json.Marshal(struct {
		Flags     []string `json:"flags"`
		Control   string   `json:"control"`
		Providers string   `json:"providers"`
	}{latchkeyFlags(cfg), "http://" + ln.Addr().String(), p.URL})
	if _, err := fmt.Printf("%s\n", line); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// latchkeyFlags are the latchkey flags for cfg; list keys repeat their flag once per entry.
func latchkeyFlags(cfg social.Config) []string {
	f := []string{
		"--social.apple.bundle_id", cfg.Apple.BundleID,
		"--social.apple.keys_url", cfg.Apple.KeysURL,
		"--social.google.keys_url", cfg.Google.KeysURL,
		"--social.facebook.graph_url", cfg.Facebook.GraphURL,
		"--social.facebook_limited_login.app_id", cfg.FacebookLimitedLogin.AppID,
		"--social.facebook_limited_login.keys_url", cfg.FacebookLimitedLogin.KeysURL,
		"--social.facebook_instant_game.app_secret", cfg.FacebookInstantGame.AppSecret,
		"--social.steam.publisher_key", cfg.Steam.PublisherKey,
		"--social.steam.app_id", strconv.Itoa(cfg.Steam.AppID),
		"--social.steam.api_url", cfg.Steam.APIURL,
		"--social.ca_file", cfg.CAFile,
		"--social.timeout_ms", strconv.FormatInt(cfg.Timeout.Milliseconds(), 10),
	}
	for _, id := range cfg.Google.ClientIDs {
		f = append(f, "--social.google.client_ids", id)
	}
	for _, host := range cfg.GameCenter.KeyHostSuffixes {
		f = append(f, "--social.gamecenter.key_host_suffixes", host)
	}
	return f
}

var providers = map[string]socialtest.Provider{
	"apple":           socialtest.Apple,
	"google":          socialtest.Google,
	"facebook":        socialtest.Facebook,
	"facebooklimited": socialtest.FacebookLimited,
	"steam":           socialtest.Steam,
	"gamecenter":      socialtest.GameCenter,
}

var behaviors = map[string]socialtest.Behavior{
	"normal":    socialtest.Normal,
	"down":      socialtest.Down,
	"slow":      socialtest.Slow,
	"malformed": socialtest.Malformed,
}

// mintRequest holds every input a mint endpoint takes; each endpoint reads the fields it needs.
type mintRequest struct {
	Sub              string `json:"sub"`
	Aud              string `json:"aud"`
	Exp              int64  `json:"exp"`
	ID               string `json:"id"`
	Name             string `json:"name"`
	SteamID          string `json:"steam_id"`
	PlayerID         string `json:"player_id"`
	Secret           string `json:"secret"`
	BundleID         string `json:"bundle_id"`
	TimestampSeconds int64  `json:"timestamp_seconds"`
}

type gameCenterAnswer struct {
	PlayerID         string `json:"player_id"`
	BundleID         string `json:"bundle_id"`
	TimestampSeconds int64  `json:"timestamp_seconds"`
	Salt             string `json:"salt"`
	Signature        string `json:"signature"`
	PublicKeyURL     string `json:"public_key_url"`
}

// errBadRequest marks a request the control API answers with 400.
var errBadRequest = errors.New("bad request")

func controlAPI(p *socialtest.Providers) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /mint/{kind}", handler(func(r *http.Request) (any, error) {
		var in mintRequest
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return mint(p, r.PathValue("kind"), in)
	}))
	mux.Handle("POST /behavior", handler(func(r *http.Request) (any, error) {
		var in struct{ Provider, Behavior string }
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		provider, ok1 := providers[in.Provider]
		b, ok2 := behaviors[in.Behavior]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: unknown provider %q or behavior %q", errBadRequest, in.Provider, in.Behavior)
		}
		p.Set(provider, b)
		return nil, nil
	}))
	mux.Handle("POST /rotate", handler(func(r *http.Request) (any, error) {
		var in struct{ Provider string }
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		provider, ok := providers[in.Provider]
		if !ok {
			return nil, fmt.Errorf("%w: unknown provider %q", errBadRequest, in.Provider)
		}
		p.RotateKeys(provider)
		return nil, nil
	}))
	mux.Handle("GET /hits", handler(func(*http.Request) (any, error) {
		hits := map[string]int{}
		for name, provider := range providers {
			hits[name] = p.Hits(provider)
		}
		return hits, nil
	}))
	return mux
}

func mint(p *socialtest.Providers, kind string, in mintRequest) (any, error) {
	exp := time.Now().Add(10 * time.Minute)
	if in.Exp != 0 {
		exp = time.Unix(in.Exp, 0)
	}
	required := func(name, value string) error {
		if value == "" {
			return fmt.Errorf("%w: %s is required", errBadRequest, name)
		}
		return nil
	}
	idToken := func(provider socialtest.Provider, defaultAud string) (any, error) {
		if err := required("sub", in.Sub); err != nil {
			return nil, err
		}
		aud := cmp.Or(in.Aud, defaultAud)
		return map[string]string{"token": p.Token(provider, p.Claims(provider, in.Sub, aud, exp))}, nil
	}
	switch kind {
	case "apple":
		return idToken(socialtest.Apple, socialtest.BundleID)
	case "google":
		return idToken(socialtest.Google, socialtest.GoogleClientID)
	case "facebooklimited":
		return idToken(socialtest.FacebookLimited, socialtest.FacebookAppID)
	case "facebook":
		if err := required("id", in.ID); err != nil {
			return nil, err
		}
		return map[string]string{"token": p.FacebookAccessToken(in.ID, in.Name)}, nil
	case "steam":
		if err := required("steam_id", in.SteamID); err != nil {
			return nil, err
		}
		return map[string]string{"token": p.SteamTicket(in.SteamID)}, nil
	case "facebookinstantgame":
		if err := required("player_id", in.PlayerID); err != nil {
			return nil, err
		}
		return map[string]string{"token": p.InstantGame(cmp.Or(in.Secret, p.InstantGameSecret), in.PlayerID)}, nil
	case "gamecenter":
		if err := required("player_id", in.PlayerID); err != nil {
			return nil, err
		}
		ts := time.Now()
		if in.TimestampSeconds != 0 {
			ts = time.Unix(in.TimestampSeconds, 0)
		}
		c := p.GameCenter(in.PlayerID, cmp.Or(in.BundleID, socialtest.BundleID), ts)
		return gameCenterAnswer{
			PlayerID: c.PlayerID, BundleID: c.BundleID, TimestampSeconds: c.TimestampSeconds,
			Salt: c.Salt, Signature: c.Signature, PublicKeyURL: c.PublicKeyURL,
		}, nil
	}
	return nil, fmt.Errorf("%w: unknown credential kind %q", errBadRequest, kind)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return nil
}

// handler adapts a function answering JSON: a nil answer is 204, an errBadRequest 400, another error 500.
func handler(f func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := f(r)
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, errBadRequest) {
				status = http.StatusBadRequest
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}
