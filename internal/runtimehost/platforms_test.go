package runtimehost_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/runtimehost"
	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// platformHost returns a host whose platform verifier talks to the stand-ins.
func platformHost(t *testing.T, e *env) (*runtimehost.Host, *socialtest.Providers) {
	t.Helper()
	p := socialtest.Start(t)
	v, err := social.New(p.Config(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := runtimehost.New(runtimehost.Deps{Accounts: e.srv.Accounts, Sessions: e.srv.Sessions, Platforms: v})
	t.Cleanup(h.Close)
	return h, p
}

// wire checks what a client gets from an RPC of h that passes err on unchanged.
func wire(t *testing.T, h *runtimehost.Host, err error, code api.Code, msg string) {
	t.Helper()
	h.RegisterRpc("pass_on", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		return "", err
	})
	_, _, got := h.Rpc(context.Background(), "pass_on", "")
	var w *api.Error
	if !errors.As(got, &w) || w.Code != code || w.Message != msg {
		t.Errorf("error %v answers %v, want code %d %q", err, got, code, msg)
	}
}

func TestPlatformAuthenticate(t *testing.T) {
	e := newEnv(t)
	h, p := platformHost(t, e)
	nk, ctx, exp := h.Module(), context.Background(), time.Now().Add(time.Hour)
	gc := p.GameCenter("G:1234", socialtest.BundleID, time.Now())

	for _, c := range []struct {
		name string
		auth func(create bool) (string, string, bool, error)
		id   func(*api.User) string
		want string
	}{
		{"Apple", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateApple(ctx, p.AppleToken("apple-sub-1", socialtest.BundleID, exp), "applefan", create)
		}, func(u *api.User) string { return u.AppleID }, "apple-sub-1"},
		{"Google", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateGoogle(ctx, p.GoogleToken("google-sub-1", socialtest.GoogleClientID, exp), "", create)
		}, func(u *api.User) string { return u.GoogleID }, "google-sub-1"},
		{"Facebook", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateFacebook(ctx, p.FacebookAccessToken("fb-1", "Player"), true, "", create)
		}, func(u *api.User) string { return u.FacebookID }, "fb-1"},
		{"FacebookInstantGame", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateFacebookInstantGame(ctx, p.InstantGame(p.InstantGameSecret, "fbig-1"), "", create)
		}, func(u *api.User) string { return u.FacebookInstantGameID }, "fbig-1"},
		{"Steam", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateSteam(ctx, p.SteamTicket("76561197960287930"), "", create)
		}, func(u *api.User) string { return u.SteamID }, "76561197960287930"},
		{"GameCenter", func(create bool) (string, string, bool, error) {
			return nk.AuthenticateGameCenter(ctx, gc.PlayerID, gc.BundleID, gc.TimestampSeconds, gc.Salt, gc.Signature, gc.PublicKeyURL, "", create)
		}, func(u *api.User) string { return u.GamecenterID }, "G:1234"},
	} {
		t.Run(c.name, func(t *testing.T) {
			uid, _, created, err := c.auth(true)
			if err != nil || !created {
				t.Fatalf("first authentication: %q, created %v, %v", uid, created, err)
			}
			again, _, created, err := c.auth(false)
			if err != nil || created || again != uid {
				t.Errorf("second authentication: %q, created %v, %v; want %q", again, created, err, uid)
			}
			users, err := nk.UsersGetId(ctx, []string{uid}, nil)
			if err != nil || len(users) != 1 || c.id(users[0]) != c.want {
				t.Errorf("UsersGetId = %+v, %v; want the platform id %q", users, err, c.want)
			}
		})
	}

	// A token signed by anyone but Apple is refused as the REST API refuses it.
	kid, _ := p.Key(socialtest.Apple)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := socialtest.SignJWT(map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"},
		p.Claims(socialtest.Apple, "apple-sub-1", socialtest.BundleID, exp), socialtest.RS256(key))
	_, _, _, err = nk.AuthenticateApple(ctx, forged, "", true)
	var pe *httpapi.PlatformError
	if !errors.As(err, &pe) || pe.Name != "Apple" || !errors.Is(err, social.ErrInvalid) {
		t.Errorf("forged Apple token: %v", err)
	}
	wire(t, h, err, api.CodeUnauthenticated, "Could not authenticate Apple profile.")
	if api.CodeUnauthenticated.HTTPStatus() != 401 {
		t.Errorf("code 16 answers %d", api.CodeUnauthenticated.HTTPStatus())
	}
	_, _, _, err = nk.AuthenticateApple(ctx, "", "", true)
	wire(t, h, err, api.CodeInvalidArgument, "Apple ID token is required.")

	// Without a verifier every platform is not configured.
	bare := runtimehost.New(runtimehost.Deps{Accounts: e.srv.Accounts, Sessions: e.srv.Sessions})
	_, _, _, err = bare.Module().AuthenticateSteam(ctx, p.SteamTicket("76561197960287931"), "", true)
	wire(t, h, err, api.CodeFailedPrecondition, "Steam sign-in is not configured on this server.")
}

func TestPlatformLinkUnlink(t *testing.T) {
	e := newEnv(t)
	h, p := platformHost(t, e)
	nk, ctx, exp := h.Module(), context.Background(), time.Now().Add(time.Hour)
	uid, _, _, err := nk.AuthenticateDevice(ctx, "platform-device-0001", "", true)
	if err != nil {
		t.Fatal(err)
	}
	google := p.GoogleToken("google-sub-2", socialtest.GoogleClientID, exp)
	if err := nk.LinkGoogle(ctx, uid, google); err != nil {
		t.Fatal(err)
	}
	if got, _, created, err := nk.AuthenticateGoogle(ctx, google, "", false); err != nil || created || got != uid {
		t.Errorf("AuthenticateGoogle after LinkGoogle = %q, %v, %v; want %q", got, created, err, uid)
	}
	// Another account cannot take the Google id.
	other, _, _, _ := nk.AuthenticateDevice(ctx, "platform-device-0002", "", true)
	wire(t, h, nk.LinkGoogle(ctx, other, google), api.CodeAlreadyExists, "Google ID is already in use.")

	gc := p.GameCenter("G:5678", socialtest.BundleID, time.Now())
	wire(t, h, nk.LinkGameCenter(ctx, uid, gc.PlayerID, gc.BundleID, gc.TimestampSeconds, "", gc.Signature, gc.PublicKeyURL),
		api.CodeInvalidArgument, "GameCenter salt is required.")
	if err := nk.LinkGameCenter(ctx, uid, gc.PlayerID, gc.BundleID, gc.TimestampSeconds, gc.Salt, gc.Signature, gc.PublicKeyURL); err != nil {
		t.Fatal(err)
	}
	if err := nk.UnlinkGoogle(ctx, uid, google); err != nil {
		t.Fatal(err)
	}
	if err := nk.UnlinkGameCenter(ctx, uid, gc.PlayerID, gc.BundleID, gc.TimestampSeconds, gc.Salt, gc.Signature, gc.PublicKeyURL); err != nil {
		t.Fatal(err)
	}
	acct, err := nk.AccountGetId(ctx, uid)
	if err != nil || acct.User.GoogleID != "" || acct.User.GamecenterID != "" || len(acct.Devices) != 1 {
		t.Errorf("account after unlinking: %+v, %v", acct, err)
	}
	// A malformed user id costs no platform call.
	before := p.Hits(socialtest.Steam)
	if err := nk.LinkSteam(ctx, "not-a-uuid", "", p.SteamTicket("76561197960287932"), false); !errors.Is(err, runtime.ErrUserIDInvalid) {
		t.Errorf("malformed user id: %v", err)
	}
	if p.Hits(socialtest.Steam) != before {
		t.Error("the platform was called for a malformed user id")
	}
}
