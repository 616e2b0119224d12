package runtimehost_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// hookLog records what after-hooks saw, as "hook user detail" lines.
type hookLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *hookLog) add(ctx context.Context, hook, detail string) {
	uid, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, hook+" "+uid+" "+detail)
}

func (l *hookLog) has(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.lines, line)
}

// identityModule registers link, unlink, delete-account and get-users hooks that change, refuse and record,
// and RPCs that pass a server function's error on unchanged.
func identityModule(log *hookLog) runtime.InitModule {
	return func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return errors.Join(
			init.RegisterBeforeLinkDevice(func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AccountDevice) (*api.AccountDevice, error) {
				switch in.ID {
				case "refused-device-01":
					return nil, nil
				case "swap-me-device-01":
					in.ID = "swapped-device-01"
				}
				return in, nil
			}),
			init.RegisterAfterLinkDevice(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AccountDevice) error {
				log.add(ctx, "linkdevice", in.ID)
				return nil
			}),
			init.RegisterBeforeUnlinkDevice(func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AccountDevice) (*api.AccountDevice, error) {
				if in.ID == "pinned-device-01" {
					return nil, nil
				}
				return in, nil
			}),
			init.RegisterAfterUnlinkDevice(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AccountDevice) error {
				log.add(ctx, "unlinkdevice", in.ID)
				return nil
			}),
			init.RegisterBeforeDeleteAccount(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule) error {
				if ctx.Value(runtime.RUNTIME_CTX_USERNAME) == "ukeepmecustom" {
					return runtime.NewError("account is protected", 9)
				}
				return nil
			}),
			init.RegisterAfterDeleteAccount(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule) error {
				log.add(ctx, "deleteaccount", "")
				return nil
			}),
			init.RegisterBeforeGetUsers(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.GetUsersRequest) (*api.GetUsersRequest, error) {
				if slices.Contains(in.Usernames, "nobody-may-ask") {
					return nil, nil
				}
				for i, u := range in.Usernames {
					if u == "me" {
						in.Usernames[i], _ = ctx.Value(runtime.RUNTIME_CTX_USERNAME).(string)
					}
				}
				return in, nil
			}),
			init.RegisterAfterGetUsers(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out *api.Users, in *api.GetUsersRequest) error {
				log.add(ctx, "getusers", fmt.Sprint(len(out.Users), in.Usernames))
				return nil
			}),
			init.RegisterRpc("unlink_custom", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
				uid, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
				return "", nk.UnlinkCustom(ctx, uid, payload)
			}),
		)
	}
}

// userID is the id of the token's account.
func (e *env) userID(tok string) string {
	e.t.Helper()
	a := e.do("GET", "/v2/account", "Bearer "+tok, "")
	user, _ := a.JSON["user"].(map[string]any)
	id, _ := user["id"].(string)
	if a.Status != 200 || id == "" {
		e.t.Fatalf("get account: %d %s", a.Status, a.Body)
	}
	return id
}

func TestIdentityHooks(t *testing.T) {
	log := &hookLog{}
	e := newEnv(t, identityModule(log))
	tok := e.login("identity-hooks-custom")
	uid := e.userID(tok)

	// Link: the before-hook's change is what is linked, and the after-hook sees it.
	if a := e.do("POST", "/v2/account/link/device", "Bearer "+tok, `{"id":"swap-me-device-01"}`); a.Status != 200 {
		t.Fatalf("link device: %d %s", a.Status, a.Body)
	}
	if a := e.do("GET", "/v2/account", "Bearer "+tok, ""); !strings.Contains(a.Body, `"swapped-device-01"`) || strings.Contains(a.Body, "swap-me") {
		t.Errorf("account after a changed link: %s", a.Body)
	}
	if !log.has("linkdevice " + uid + " swapped-device-01") {
		t.Errorf("after link hook: %q", log.lines)
	}
	e.do("POST", "/v2/account/link/device", "Bearer "+tok, `{"id":"refused-device-01"}`).WantError(t, 404, 5, "Requested resource was not found.")

	// Unlink: refused by the before-hook, then done and seen by the after-hook.
	e.do("POST", "/v2/account/unlink/device", "Bearer "+tok, `{"id":"pinned-device-01"}`).WantError(t, 404, 5, "Requested resource was not found.")
	if a := e.do("POST", "/v2/account/unlink/device", "Bearer "+tok, `{"id":"swapped-device-01"}`); a.Status != 200 {
		t.Fatalf("unlink device: %d %s", a.Status, a.Body)
	}
	if !log.has("unlinkdevice " + uid + " swapped-device-01") {
		t.Errorf("after unlink hook: %q", log.lines)
	}

	// Get users: the before-hook rewrites the query, or refuses it; the after-hook sees the answer.
	a := e.do("GET", "/v2/user?usernames=me", "Bearer "+tok, "")
	if users, _ := a.JSON["users"].([]any); a.Status != 200 || len(users) != 1 || !strings.Contains(a.Body, `"id":"`+uid+`"`) {
		t.Errorf("get users rewritten by the hook: %d %s", a.Status, a.Body)
	}
	if !log.has("getusers " + uid + " 1 [uidentityhookscustom]") {
		t.Errorf("after get users hook: %q", log.lines)
	}
	e.do("GET", "/v2/user?usernames=nobody-may-ask", "Bearer "+tok, "").WantError(t, 404, 5, "Requested resource was not found.")

	// Delete account: refused by the before-hook's error, then done; the after-hook still knows the caller.
	keep := e.login("keep-me-custom")
	e.do("DELETE", "/v2/account", "Bearer "+keep, "").WantError(t, 400, 9, "account is protected")
	e.userID(keep)
	if a := e.do("DELETE", "/v2/account", "Bearer "+tok, ""); a.Status != 200 {
		t.Fatalf("delete account: %d %s", a.Status, a.Body)
	}
	if !log.has("deleteaccount " + uid + " ") {
		t.Errorf("after delete hook: %q", log.lines)
	}
	e.do("GET", "/v2/account", "Bearer "+tok, "").WantError(t, 401, 16, "Auth token invalid")
}

func TestLinkUnlinkFunctions(t *testing.T) {
	e := newEnv(t, identityModule(&hookLog{}))
	nk, ctx := e.srv.Runtime.Module(), context.Background()

	uid, username, created, err := nk.AuthenticateDevice(ctx, "first-device-0001", "devicer", true)
	if err != nil || !created || username != "devicer" {
		t.Fatalf("AuthenticateDevice = %q, %q, %v, %v", uid, username, created, err)
	}
	if again, _, created, err := nk.AuthenticateDevice(ctx, "first-device-0001", "", false); err != nil || created || again != uid {
		t.Fatalf("AuthenticateDevice again = %q, %v, %v; want %q, not created", again, created, err, uid)
	}
	if err := nk.LinkDevice(ctx, uid, "second-device-0001"); err != nil {
		t.Fatal(err)
	}
	if err := nk.LinkDevice(ctx, uid, "second-device-0001"); err != nil {
		t.Errorf("linking a device the account has: %v", err)
	}
	if acct, _ := nk.AccountGetId(ctx, uid); len(acct.Devices) != 2 {
		t.Errorf("devices after link: %+v", acct.Devices)
	}
	if err := nk.UnlinkDevice(ctx, uid, "first-device-0001"); err != nil {
		t.Fatal(err)
	}
	// The last identity stays; the error reaches a client as Nakama's.
	err = nk.UnlinkDevice(ctx, uid, "second-device-0001")
	if w, known := httpapi.WireError(err); !known || w.Code != api.CodePermissionDenied ||
		w.Message != "Cannot unlink last account identifier. Check profile exists and is not last link." {
		t.Errorf("unlinking the last identity: %v (%+v)", err, w)
	}
	if _, _, _, err := nk.AuthenticateDevice(ctx, "first-device-0001", "", false); !errors.Is(err, runtime.ErrUserNotFound) {
		t.Errorf("authenticating an unlinked device without create: %v", err)
	}

	// Mistakes: a malformed or unknown user, a device of another account, a taken username.
	if err := nk.LinkDevice(ctx, "not-a-uuid", "third-device-0001"); !errors.Is(err, runtime.ErrUserIDInvalid) {
		t.Errorf("malformed user id: %v", err)
	}
	if err := nk.LinkDevice(ctx, "00000000-0000-4000-8000-000000000000", "third-device-0001"); !errors.Is(err, runtime.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	other, _, _, err := nk.AuthenticateCustom(ctx, "other-custom-0001", "", true)
	if err != nil {
		t.Fatal(err)
	}
	err = nk.LinkDevice(ctx, other, "second-device-0001")
	if w, _ := httpapi.WireError(err); w.Code != api.CodeAlreadyExists || w.Message != "Device ID already in use." {
		t.Errorf("linking another account's device: %v (%+v)", err, w)
	}
	if _, _, _, err := nk.AuthenticateEmail(ctx, "someone@example.com", "password1", "devicer", true); !errors.Is(err, runtime.ErrUsernameTaken) {
		t.Errorf("taken username: %v", err)
	}

	// Email: linked with its password, logged in with it, unlinked without it.
	if err := nk.LinkEmail(ctx, other, "Other@Example.com", "password1"); err != nil {
		t.Fatal(err)
	}
	if got, _, _, err := nk.AuthenticateEmail(ctx, "other@example.com", "password1", "", false); err != nil || got != other {
		t.Errorf("AuthenticateEmail after LinkEmail = %q, %v; want %q", got, err, other)
	}
	if err := nk.UnlinkEmail(ctx, other, "other@example.com"); err != nil {
		t.Error(err)
	}

	// From an RPC, unlinking the caller's only identity answers as the REST API does.
	tok := e.login("only-custom-id")
	e.do("POST", "/v2/rpc/unlink_custom?unwrap", "Bearer "+tok, "only-custom-id").
		WantError(t, 403, 7, "Cannot unlink last account identifier. Check profile exists and is not last link.")
}

func TestAccountDeleteId(t *testing.T) {
	e := newEnv(t)
	nk, ctx := e.srv.Runtime.Module(), context.Background()
	a := e.do("POST", "/v2/account/authenticate/device?username=doomed", servertest.Basic("defaultkey"), `{"id":"doomed-device-0001"}`)
	tok, _ := a.JSON["token"].(string)
	s, err := nk.SessionValidate(ctx, tok)
	if err != nil {
		t.Fatalf("authenticate device: %d %s: %v", a.Status, a.Body, err)
	}
	uid := s.UserID

	if err = nk.AccountDeleteId(ctx, uid, false); err != nil {
		t.Fatal(err)
	}
	// The token is refused at once, everywhere the server checks it.
	e.do("GET", "/v2/account", "Bearer "+tok, "").WantError(t, 401, 16, "Auth token invalid")
	if _, err := nk.SessionValidate(ctx, tok); !errors.Is(err, runtime.ErrSessionRevoked) {
		t.Errorf("SessionValidate after deletion: %v", err)
	}
	// The device is free for a fresh account, and the username too.
	fresh, username, created, err := nk.AuthenticateDevice(ctx, "doomed-device-0001", "doomed", true)
	if err != nil || !created || fresh == uid || username != "doomed" {
		t.Errorf("AuthenticateDevice after deletion = %q, %q, %v, %v", fresh, username, created, err)
	}
	if err := nk.AccountDeleteId(ctx, uid, true); !errors.Is(err, runtime.ErrUserNotFound) {
		t.Errorf("deleting a deleted account: %v", err)
	}
	if err := nk.AccountDeleteId(ctx, "not-a-uuid", true); !errors.Is(err, runtime.ErrUserIDInvalid) {
		t.Errorf("malformed user id: %v", err)
	}
}

func TestUsersGet(t *testing.T) {
	e := newEnv(t)
	nk, ctx := e.srv.Runtime.Module(), context.Background()
	var ids []string
	for _, name := range []string{"ann", "bob", "cat"} {
		id, _, _, err := nk.AuthenticateCustom(ctx, name+"-custom-id", name, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	names := func(users []*api.User) []string {
		var out []string
		for _, u := range users {
			out = append(out, u.Username)
		}
		slices.Sort(out)
		return out
	}

	// Unknown ids are skipped, and server code is not held to the REST API's 100 a call.
	query := []string{ids[0], ids[2], ids[0]}
	for i := range 150 {
		query = append(query, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	users, err := nk.UsersGetId(ctx, query, []string{"no-such-facebook-id"})
	if got := names(users); err != nil || !slices.Equal(got, []string{"ann", "cat"}) {
		t.Errorf("UsersGetId = %v, %v; want ann and cat", got, err)
	}
	if users, err := nk.UsersGetId(ctx, nil, nil); err != nil || users == nil || len(users) != 0 {
		t.Errorf("UsersGetId of nothing = %#v, %v; want an empty list", users, err)
	}
	if _, err := nk.UsersGetId(ctx, []string{ids[1], "bob"}, nil); !errors.Is(err, runtime.ErrUserIDInvalid) {
		t.Errorf("malformed id: %v", err)
	}
	users, err = nk.UsersGetUsername(ctx, []string{"bob", "cat", "nobody"})
	if got := names(users); err != nil || !slices.Equal(got, []string{"bob", "cat"}) || users[0].CreateTime == "" {
		t.Errorf("UsersGetUsername = %v, %v; want bob and cat with their profiles", got, err)
	}
}

// refuse is a before-hook that refuses the call.
func refuse[T any](context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *T) (*T, error) {
	return nil, nil
}

// TestIdentityHookNames: each route's before-hook is found under the name the HTTP layer passes, with the
// request type it passes (a wrong name lets the call through, a wrong type fails it with a 500).
func TestIdentityHookNames(t *testing.T) {
	e := newEnv(t, func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return errors.Join(
			init.RegisterBeforeAuthenticateApple(refuse[api.AuthenticateAppleRequest]),
			init.RegisterBeforeAuthenticateGoogle(refuse[api.AuthenticateGoogleRequest]),
			init.RegisterBeforeAuthenticateFacebook(refuse[api.AuthenticateFacebookRequest]),
			init.RegisterBeforeAuthenticateFacebookInstantGame(refuse[api.AuthenticateFacebookInstantGameRequest]),
			init.RegisterBeforeAuthenticateSteam(refuse[api.AuthenticateSteamRequest]),
			init.RegisterBeforeAuthenticateGameCenter(refuse[api.AuthenticateGameCenterRequest]),
			init.RegisterBeforeLinkDevice(refuse[api.AccountDevice]),
			init.RegisterBeforeLinkEmail(refuse[api.AccountEmail]),
			init.RegisterBeforeLinkCustom(refuse[api.AccountCustom]),
			init.RegisterBeforeLinkApple(refuse[api.AccountApple]),
			init.RegisterBeforeLinkGoogle(refuse[api.AccountGoogle]),
			init.RegisterBeforeLinkGameCenter(refuse[api.AccountGameCenter]),
			init.RegisterBeforeLinkFacebook(refuse[api.LinkFacebookRequest]),
			init.RegisterBeforeLinkFacebookInstantGame(refuse[api.AccountFacebookInstantGame]),
			init.RegisterBeforeLinkSteam(refuse[api.LinkSteamRequest]),
			init.RegisterBeforeUnlinkDevice(refuse[api.AccountDevice]),
			init.RegisterBeforeUnlinkEmail(refuse[api.AccountEmail]),
			init.RegisterBeforeUnlinkCustom(refuse[api.AccountCustom]),
			init.RegisterBeforeUnlinkApple(refuse[api.AccountApple]),
			init.RegisterBeforeUnlinkGoogle(refuse[api.AccountGoogle]),
			init.RegisterBeforeUnlinkGameCenter(refuse[api.AccountGameCenter]),
			init.RegisterBeforeUnlinkFacebook(refuse[api.AccountFacebook]),
			init.RegisterBeforeUnlinkFacebookInstantGame(refuse[api.AccountFacebookInstantGame]),
			init.RegisterBeforeUnlinkSteam(refuse[api.AccountSteam]),
			init.RegisterBeforeDeleteAccount(func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error {
				return runtime.NewError("refused", 5)
			}),
			init.RegisterBeforeGetUsers(refuse[api.GetUsersRequest]),
		)
	})
	bearer := "Bearer " + e.login("hook-names-custom")
	var calls [][3]string // method, path, authorization
	for _, p := range []string{"apple", "google", "facebook", "facebookinstantgame", "steam", "gamecenter"} {
		calls = append(calls, [3]string{"POST", "/v2/account/authenticate/" + p, servertest.Basic("defaultkey")})
	}
	for _, verb := range []string{"link", "unlink"} {
		for _, k := range []string{"device", "email", "custom", "apple", "google", "gamecenter", "facebook", "facebookinstantgame", "steam"} {
			calls = append(calls, [3]string{"POST", "/v2/account/" + verb + "/" + k, bearer})
		}
	}
	calls = append(calls, [3]string{"DELETE", "/v2/account", bearer}, [3]string{"GET", "/v2/user?ids=x", bearer})
	for _, c := range calls {
		if a := e.do(c[0], c[1], c[2], "{}"); a.Status != 404 || a.JSON["code"] != 5.0 {
			t.Errorf("%s %s: %d %s, want the before-hook's refusal", c[0], c[1], a.Status, a.Body)
		}
	}
}
