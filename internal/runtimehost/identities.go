package runtimehost

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/runtime"
)

// identify says which identity a credential names, checking it with the platform where it is a platform's.
// Link and unlink call it only once the user id is known to be well formed, so that a mistake costs no
// platform call.
type identify func(ctx context.Context) (string, error)

// plain is the identity of a device id, custom id or email: the credential itself.
func plain(id string) identify { return func(context.Context) (string, error) { return id, nil } }

// tokenPlatforms are the platforms whose credential is one string. Names and messages are the REST API's
// (internal/httpapi/identity.go), so that a server function's error reads as the route's would.
var tokenPlatforms = map[storage.IdentityKind]struct {
	name, required string
	verify         func(httpapi.Platforms, context.Context, string) (social.Identity, error)
}{
	storage.IdentityApple:               {"Apple", "Apple ID token is required.", httpapi.Platforms.Apple},
	storage.IdentityGoogle:              {"Google", "Google access token is required.", httpapi.Platforms.Google},
	storage.IdentityFacebook:            {"Facebook", "Facebook access token is required.", httpapi.Platforms.Facebook},
	storage.IdentityFacebookInstantGame: {"Facebook Instant Game", "Signed player info for a Facebook Instant Game is required.", httpapi.Platforms.FacebookInstantGame},
	storage.IdentitySteam:               {"Steam", "Steam access token is required.", httpapi.Platforms.Steam},
}

// invalidArgument is a refusal answered 400 with msg, as the REST API answers a missing field.
func invalidArgument(msg string) error { return runtime.NewError(msg, int(api.CodeInvalidArgument)) }

// token verifies a one-string platform credential of the given kind.
func (m *module) token(kind storage.IdentityKind, credential string) identify {
	p := tokenPlatforms[kind]
	return func(ctx context.Context) (string, error) {
		if credential == "" {
			return "", invalidArgument(p.required)
		}
		return m.verified(p.name, func(v httpapi.Platforms) (social.Identity, error) { return p.verify(v, ctx, credential) })
	}
}

// gameCenter verifies a Game Center identity verification signature.
func (m *module) gameCenter(playerID, bundleID string, timestamp int64, salt, signature, publicKeyURL string) identify {
	return func(ctx context.Context) (string, error) {
		for _, f := range []struct{ v, what string }{
			{playerID, "ID"}, {bundleID, "bundle ID"}, {salt, "salt"}, {signature, "signature"}, {publicKeyURL, "public key URL"},
		} {
			if f.v == "" {
				return "", invalidArgument("GameCenter " + f.what + " is required.")
			}
		}
		if timestamp == 0 {
			return "", invalidArgument("GameCenter timestamp is required.")
		}
		return m.verified("GameCenter", func(v httpapi.Platforms) (social.Identity, error) {
			return v.GameCenter(ctx, social.GameCenterCredential{
				PlayerID: playerID, BundleID: bundleID, TimestampSeconds: timestamp,
				Salt: salt, Signature: signature, PublicKeyURL: publicKeyURL,
			})
		})
	}
}

// verified runs a platform check and returns the platform's user id. A refusal is an
// *httpapi.PlatformError, which reaches the client as the REST API answers it; without a verifier every
// platform is not configured.
func (m *module) verified(name string, check func(httpapi.Platforms) (social.Identity, error)) (string, error) {
	if m.h.d.Platforms == nil {
		return "", &httpapi.PlatformError{Name: name, Err: social.ErrNotConfigured}
	}
	id, err := check(m.h.d.Platforms)
	if err != nil {
		return "", &httpapi.PlatformError{Name: name, Err: err}
	}
	return id.ID, nil
}

// authenticated turns an authentication's outcome into Nakama's (user id, username, created, error), with
// the runtime package's errors where it has one.
func authenticated(res accounts.Result, err error) (string, string, bool, error) {
	switch {
	case errors.Is(err, accounts.ErrUserNotFound):
		return "", "", false, fmt.Errorf("%w: %w", runtime.ErrUserNotFound, err)
	case errors.Is(err, accounts.ErrUsernameTaken):
		return "", "", false, fmt.Errorf("%w: %w", runtime.ErrUsernameTaken, err)
	case err != nil:
		return "", "", false, err
	}
	return res.User.ID, res.User.Username, res.Created, nil
}

func (m *module) authenticatePlatform(ctx context.Context, kind storage.IdentityKind, who identify, username string, create bool) (string, string, bool, error) {
	id, err := who(ctx)
	if err != nil {
		return "", "", false, err
	}
	return authenticated(m.h.d.Accounts.AuthenticatePlatform(ctx, kind, id, username, create))
}

func (m *module) AuthenticateDevice(ctx context.Context, id, username string, create bool) (string, string, bool, error) {
	return authenticated(m.h.d.Accounts.AuthenticateDevice(ctx, id, username, create))
}

func (m *module) AuthenticateEmail(ctx context.Context, email, password, username string, create bool) (string, string, bool, error) {
	return authenticated(m.h.d.Accounts.AuthenticateEmail(ctx, email, password, username, create))
}

func (m *module) AuthenticateCustom(ctx context.Context, id, username string, create bool) (string, string, bool, error) {
	return authenticated(m.h.d.Accounts.AuthenticateCustom(ctx, id, username, create))
}

func (m *module) AuthenticateApple(ctx context.Context, token, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentityApple, m.token(storage.IdentityApple, token), username, create)
}

func (m *module) AuthenticateGoogle(ctx context.Context, token, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentityGoogle, m.token(storage.IdentityGoogle, token), username, create)
}

// AuthenticateFacebook ignores importFriends: Latchkey has no friends.
func (m *module) AuthenticateFacebook(ctx context.Context, token string, importFriends bool, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentityFacebook, m.token(storage.IdentityFacebook, token), username, create)
}

func (m *module) AuthenticateFacebookInstantGame(ctx context.Context, signedPlayerInfo string, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentityFacebookInstantGame, m.token(storage.IdentityFacebookInstantGame, signedPlayerInfo), username, create)
}

func (m *module) AuthenticateSteam(ctx context.Context, token, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentitySteam, m.token(storage.IdentitySteam, token), username, create)
}

func (m *module) AuthenticateGameCenter(ctx context.Context, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl, username string, create bool) (string, string, bool, error) {
	return m.authenticatePlatform(ctx, storage.IdentityGameCenter, m.gameCenter(playerID, bundleID, timestamp, salt, signature, publicKeyUrl), username, create)
}

// identified checks the user id, then the credential.
func identified(ctx context.Context, userID string, who identify) (uid, id string, err error) {
	if uid, err = canonicalID(userID); err != nil {
		return "", "", err
	}
	id, err = who(ctx)
	return uid, id, err
}

func (m *module) link(ctx context.Context, userID string, kind storage.IdentityKind, who identify, password string) error {
	uid, id, err := identified(ctx, userID, who)
	if err != nil {
		return err
	}
	err = m.h.d.Accounts.Link(ctx, uid, kind, id, password)
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return runtime.ErrUserNotFound
	}
	return err
}

// unlink refuses the account's last identity, or one it does not have (an unknown user has none), with
// accounts.ErrLastIdentity, Nakama's one answer to all three.
func (m *module) unlink(ctx context.Context, userID string, kind storage.IdentityKind, who identify) error {
	uid, id, err := identified(ctx, userID, who)
	if err != nil {
		return err
	}
	return m.h.d.Accounts.Unlink(ctx, uid, kind, id)
}

func (m *module) LinkDevice(ctx context.Context, userID, deviceID string) error {
	return m.link(ctx, userID, storage.IdentityDevice, plain(deviceID), "")
}

func (m *module) LinkEmail(ctx context.Context, userID, email, password string) error {
	return m.link(ctx, userID, storage.IdentityEmail, plain(email), password)
}

func (m *module) LinkCustom(ctx context.Context, userID, customID string) error {
	return m.link(ctx, userID, storage.IdentityCustom, plain(customID), "")
}

func (m *module) LinkApple(ctx context.Context, userID, token string) error {
	return m.link(ctx, userID, storage.IdentityApple, m.token(storage.IdentityApple, token), "")
}

func (m *module) LinkGoogle(ctx context.Context, userID, token string) error {
	return m.link(ctx, userID, storage.IdentityGoogle, m.token(storage.IdentityGoogle, token), "")
}

// LinkFacebook ignores username and importFriends, which Nakama uses for importing friends.
func (m *module) LinkFacebook(ctx context.Context, userID, username, token string, importFriends bool) error {
	return m.link(ctx, userID, storage.IdentityFacebook, m.token(storage.IdentityFacebook, token), "")
}

func (m *module) LinkFacebookInstantGame(ctx context.Context, userID, signedPlayerInfo string) error {
	return m.link(ctx, userID, storage.IdentityFacebookInstantGame, m.token(storage.IdentityFacebookInstantGame, signedPlayerInfo), "")
}

// LinkSteam ignores username and importFriends, which Nakama uses for importing friends.
func (m *module) LinkSteam(ctx context.Context, userID, username, token string, importFriends bool) error {
	return m.link(ctx, userID, storage.IdentitySteam, m.token(storage.IdentitySteam, token), "")
}

func (m *module) LinkGameCenter(ctx context.Context, userID, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl string) error {
	return m.link(ctx, userID, storage.IdentityGameCenter, m.gameCenter(playerID, bundleID, timestamp, salt, signature, publicKeyUrl), "")
}

func (m *module) UnlinkDevice(ctx context.Context, userID, deviceID string) error {
	return m.unlink(ctx, userID, storage.IdentityDevice, plain(deviceID))
}

func (m *module) UnlinkEmail(ctx context.Context, userID, email string) error {
	return m.unlink(ctx, userID, storage.IdentityEmail, plain(email))
}

func (m *module) UnlinkCustom(ctx context.Context, userID, customID string) error {
	return m.unlink(ctx, userID, storage.IdentityCustom, plain(customID))
}

func (m *module) UnlinkApple(ctx context.Context, userID, token string) error {
	return m.unlink(ctx, userID, storage.IdentityApple, m.token(storage.IdentityApple, token))
}

func (m *module) UnlinkGoogle(ctx context.Context, userID, token string) error {
	return m.unlink(ctx, userID, storage.IdentityGoogle, m.token(storage.IdentityGoogle, token))
}

func (m *module) UnlinkFacebook(ctx context.Context, userID, token string) error {
	return m.unlink(ctx, userID, storage.IdentityFacebook, m.token(storage.IdentityFacebook, token))
}

func (m *module) UnlinkFacebookInstantGame(ctx context.Context, userID, signedPlayerInfo string) error {
	return m.unlink(ctx, userID, storage.IdentityFacebookInstantGame, m.token(storage.IdentityFacebookInstantGame, signedPlayerInfo))
}

func (m *module) UnlinkSteam(ctx context.Context, userID, token string) error {
	return m.unlink(ctx, userID, storage.IdentitySteam, m.token(storage.IdentitySteam, token))
}

func (m *module) UnlinkGameCenter(ctx context.Context, userID, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl string) error {
	return m.unlink(ctx, userID, storage.IdentityGameCenter, m.gameCenter(playerID, bundleID, timestamp, salt, signature, publicKeyUrl))
}

// AccountDeleteId deletes the account as DELETE /v2/account does (sessions.Manager.DeleteAccount), so
// that a failed deletion leaves no usable token behind and a retry is safe. recorded (Nakama's tombstone)
// is ignored: the deletion is always in the event log.
func (m *module) AccountDeleteId(ctx context.Context, userID string, recorded bool) error {
	uid, err := canonicalID(userID)
	if err != nil {
		return err
	}
	err = m.h.d.Sessions.DeleteAccount(ctx, uid, "server code")
	if errors.Is(err, sessions.ErrUserNotFound) {
		return runtime.ErrUserNotFound
	}
	return err
}

func (m *module) UsersGetId(ctx context.Context, userIDs []string, facebookIDs []string) ([]*api.User, error) {
	for _, id := range userIDs {
		if _, err := canonicalID(id); err != nil {
			return nil, err
		}
	}
	return m.users(ctx, userIDs, nil, facebookIDs)
}

func (m *module) UsersGetUsername(ctx context.Context, usernames []string) ([]*api.User, error) {
	return m.users(ctx, nil, usernames, nil)
}

// usersBatch is the most accounts.Service.Users looks up at once (the REST API's limit); server code has
// no limit, as in Nakama, so longer lists are looked up in batches.
const usersBatch = 100

// users returns the public profiles of the accounts with these ids, usernames or Facebook ids, each once.
func (m *module) users(ctx context.Context, ids, usernames, facebookIDs []string) ([]*api.User, error) {
	out := []*api.User{}
	seen := map[string]bool{}
	for slot, keys := range [][]string{ids, usernames, facebookIDs} {
		for batch := range slices.Chunk(keys, usersBatch) {
			var q [3][]string
			q[slot] = batch
			list, err := m.h.d.Accounts.Users(ctx, q[0], q[1], q[2])
			if err != nil {
				return nil, err
			}
			for i := range list {
				if !seen[list[i].ID] {
					seen[list[i].ID] = true
					out = append(out, httpapi.UserJSON(&list[i]))
				}
			}
		}
	}
	return out, nil
}
