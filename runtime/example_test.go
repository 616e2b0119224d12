package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/runtime"
)

// exampleServer starts a server on a temporary SQLite database, as InitModule would see it, and returns
// its server functions, a user id (an account "alice" with one device) and a cleanup function.
func exampleServer() (nk runtime.NakamaModule, userID string, done func()) {
	dir, err := os.MkdirTemp("", "latchkey-runtime-example-")
	if err != nil {
		panic(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Auth.BcryptCost = 4
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		panic(err)
	}
	res, err := srv.Accounts.AuthenticateDevice(context.Background(), "example-device-0001", "alice", true)
	if err != nil {
		panic(err)
	}
	return srv.Runtime.Module(), res.User.ID, func() {
		srv.Close()
		os.RemoveAll(dir)
	}
}

// A session token for an account, for example after a rename or for a game server's own use. The token is
// a real session: it validates like any login, and logging it out ends it everywhere.
func ExampleNakamaModule_AuthenticateTokenGenerate() {
	nk, userID, done := exampleServer()
	defer done()

	// Empty username: the account's current one. exp 0: session.token_expiry_sec from now.
	token, exp, err := nk.AuthenticateTokenGenerate(userID, "", 0, map[string]string{"mode": "ranked"})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := nk.SessionValidate(context.Background(), token)
	fmt.Println(err, s.Username, s.Vars["mode"], s.ExpiresAt == exp)

	// Mistakes are clear errors, not random usernames or tokens for nobody.
	_, _, err = nk.AuthenticateTokenGenerate("not-a-uuid", "", 0, nil)
	fmt.Println(errors.Is(err, runtime.ErrUserIDInvalid))
	_, _, err = nk.AuthenticateTokenGenerate("00000000-0000-4000-8000-000000000000", "", 0, nil)
	fmt.Println(errors.Is(err, runtime.ErrUserNotFound))
	// Output:
	// <nil> alice ranked true
	// true
	// true
}

// Checking a player's token from server code, for example in an RPC that a dedicated game server calls,
// without knowing any key. The error says why a token is refused.
func ExampleNakamaModule_SessionValidate() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()
	token, _, _ := nk.AuthenticateTokenGenerate(userID, "", 0, nil)

	s, err := nk.SessionValidate(ctx, token)
	fmt.Println(err, s.UserID == userID)

	_, err = nk.SessionValidate(ctx, "not.a.token")
	fmt.Println(errors.Is(err, runtime.ErrTokenMalformed))

	tampered := token[:len(token)-2] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, token[len(token)-2:])
	_, err = nk.SessionValidate(ctx, tampered)
	fmt.Println(errors.Is(err, runtime.ErrTokenSignature))

	_ = nk.SessionLogout(userID, token, "")
	_, err = nk.SessionValidate(ctx, token)
	fmt.Println(errors.Is(err, runtime.ErrSessionRevoked))
	// Output:
	// <nil> true
	// true
	// true
	// true
}

// A player's live sessions, and ending one of them.
func ExampleNakamaModule_SessionsList() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()
	token, _, _ := nk.AuthenticateTokenGenerate(userID, "", 0, nil)
	s, _ := nk.SessionValidate(ctx, token)

	list, _ := nk.SessionsList(ctx, userID)
	fmt.Println(len(list), list[0].ID == s.SessionID)

	fmt.Println(nk.SessionRevoke(ctx, userID, s.SessionID))
	_, err := nk.SessionValidate(ctx, token)
	fmt.Println(errors.Is(err, runtime.ErrSessionRevoked))
	fmt.Println(errors.Is(nk.SessionRevoke(ctx, userID, s.SessionID), runtime.ErrSessionNotFound))
	// Output:
	// 1 true
	// <nil>
	// true
	// true
}

// Reading and changing an account. Empty strings and nil metadata leave fields unchanged, as in Nakama.
func ExampleNakamaModule_AccountUpdateId() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()

	err := nk.AccountUpdateId(ctx, userID, "alice_2", map[string]interface{}{"level": 3}, "Alice", "", "", "fr", "")
	fmt.Println(err)
	acct, _ := nk.AccountGetId(ctx, userID)
	fmt.Println(acct.User.Username, acct.User.DisplayName, acct.User.LangTag, acct.User.Metadata)
	// Output:
	// <nil>
	// alice_2 Alice fr {"level":3}
}

// Banning ends every session of the account on every node; unbanning lets the player log in again.
func ExampleNakamaModule_UsersBanId() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()
	token, _, _ := nk.AuthenticateTokenGenerate(userID, "", 0, nil)

	fmt.Println(nk.UsersBanId(ctx, []string{userID}))
	_, err := nk.SessionValidate(ctx, token)
	fmt.Println(errors.Is(err, runtime.ErrSessionRevoked))
	acct, _ := nk.AccountGetId(ctx, userID)
	fmt.Println(acct.DisableTime != "")

	fmt.Println(nk.UsersUnbanId(ctx, []string{userID}))
	acct, _ = nk.AccountGetId(ctx, userID)
	fmt.Println(acct.DisableTime == "")
	// Output:
	// <nil>
	// true
	// true
	// <nil>
	// true
}

// Finding and closing a user's realtime sockets, Nakama's way (the notifications stream) or Latchkey's
// (SocketsList). Both see every node's sockets; this user has none open.
func ExampleNakamaModule_StreamUserList() {
	nk, userID, done := exampleServer()
	defer done()

	presences, err := nk.StreamUserList(runtime.StreamModeNotifications, userID, "", "", true, true)
	fmt.Println(len(presences), err)
	for _, p := range presences { // one per open socket
		nk.SessionDisconnect(context.Background(), p.GetSessionId(), runtime.PresenceReasonDisconnect)
	}
	sockets, err := nk.SocketsList(context.Background(), userID)
	fmt.Println(len(sockets), err)

	// Latchkey has no matches, chat or parties, so it has no other streams.
	_, err = nk.StreamUserList(2, "match-id", "", "", true, true)
	fmt.Println(errors.Is(err, runtime.ErrStreamModeNotServed))
	// Output:
	// 0 <nil>
	// 0 <nil>
	// true
}

// Adding a device to a player's account, for example when they sign in on a second phone: the new device
// then authenticates to the same account.
func ExampleNakamaModule_LinkDevice() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()

	fmt.Println(nk.LinkDevice(ctx, userID, "example-device-0002"))
	id, username, created, err := nk.AuthenticateDevice(ctx, "example-device-0002", "", false)
	fmt.Println(id == userID, username, created, err)
	// Output:
	// <nil>
	// true alice false <nil>
}

// Removing a device from an account. An account keeps at least one way to sign in: unlinking its last
// identity is refused, and answers a client 403 "Cannot unlink last account identifier. ..." as in Nakama.
func ExampleNakamaModule_UnlinkDevice() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()
	_ = nk.LinkDevice(ctx, userID, "example-device-0002")

	fmt.Println(nk.UnlinkDevice(ctx, userID, "example-device-0001"))
	fmt.Println(nk.UnlinkDevice(ctx, userID, "example-device-0002") != nil)
	acct, _ := nk.AccountGetId(ctx, userID)
	fmt.Println(acct.Devices)
	// Output:
	// <nil>
	// true
	// [{example-device-0002}]
}

// Deleting an account ends its sessions on every node at once; its device is then free to create a new
// account.
func ExampleNakamaModule_AccountDeleteId() {
	nk, userID, done := exampleServer()
	defer done()
	ctx := context.Background()
	token, _, _ := nk.AuthenticateTokenGenerate(userID, "", 0, nil)

	fmt.Println(nk.AccountDeleteId(ctx, userID, false))
	_, err := nk.SessionValidate(ctx, token)
	fmt.Println(errors.Is(err, runtime.ErrSessionRevoked))
	_, err = nk.AccountGetId(ctx, userID)
	fmt.Println(errors.Is(err, runtime.ErrUserNotFound))

	newID, username, created, err := nk.AuthenticateDevice(ctx, "example-device-0001", "alice", true)
	fmt.Println(newID != userID, username, created, err)
	// Output:
	// <nil>
	// true
	// true
	// true alice true <nil>
}
