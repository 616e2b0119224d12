package runtimehost

import (
	"context"
	"database/sql"
	"errors"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// The hooks of the platform authenticate, link, unlink, delete-account and get-users routes, under the
// names internal/httpapi/identity.go passes. After an authentication the hook sees the session and the
// request, after a link or unlink only the request, after a deletion nothing but its context.

func (h *Host) RegisterBeforeAuthenticateApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateAppleRequest) (*api.AuthenticateAppleRequest, error)) error {
	return before(h, "authenticateapple", fn)
}

func (h *Host) RegisterAfterAuthenticateApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateAppleRequest) error) error {
	return afterOut(h, "authenticateapple", fn)
}

func (h *Host) RegisterBeforeAuthenticateGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateGoogleRequest) (*api.AuthenticateGoogleRequest, error)) error {
	return before(h, "authenticategoogle", fn)
}

func (h *Host) RegisterAfterAuthenticateGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateGoogleRequest) error) error {
	return afterOut(h, "authenticategoogle", fn)
}

func (h *Host) RegisterBeforeAuthenticateFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateFacebookRequest) (*api.AuthenticateFacebookRequest, error)) error {
	return before(h, "authenticatefacebook", fn)
}

func (h *Host) RegisterAfterAuthenticateFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateFacebookRequest) error) error {
	return afterOut(h, "authenticatefacebook", fn)
}

func (h *Host) RegisterBeforeAuthenticateFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateFacebookInstantGameRequest) (*api.AuthenticateFacebookInstantGameRequest, error)) error {
	return before(h, "authenticatefacebookinstantgame", fn)
}

func (h *Host) RegisterAfterAuthenticateFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateFacebookInstantGameRequest) error) error {
	return afterOut(h, "authenticatefacebookinstantgame", fn)
}

func (h *Host) RegisterBeforeAuthenticateSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateSteamRequest) (*api.AuthenticateSteamRequest, error)) error {
	return before(h, "authenticatesteam", fn)
}

func (h *Host) RegisterAfterAuthenticateSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateSteamRequest) error) error {
	return afterOut(h, "authenticatesteam", fn)
}

func (h *Host) RegisterBeforeAuthenticateGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AuthenticateGameCenterRequest) (*api.AuthenticateGameCenterRequest, error)) error {
	return before(h, "authenticategamecenter", fn)
}

func (h *Host) RegisterAfterAuthenticateGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Session, *api.AuthenticateGameCenterRequest) error) error {
	return afterOut(h, "authenticategamecenter", fn)
}

func (h *Host) RegisterBeforeLinkDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountDevice) (*api.AccountDevice, error)) error {
	return before(h, "linkdevice", fn)
}

func (h *Host) RegisterAfterLinkDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountDevice) error) error {
	return afterIn(h, "linkdevice", fn)
}

func (h *Host) RegisterBeforeLinkEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountEmail) (*api.AccountEmail, error)) error {
	return before(h, "linkemail", fn)
}

func (h *Host) RegisterAfterLinkEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountEmail) error) error {
	return afterIn(h, "linkemail", fn)
}

func (h *Host) RegisterBeforeLinkCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountCustom) (*api.AccountCustom, error)) error {
	return before(h, "linkcustom", fn)
}

func (h *Host) RegisterAfterLinkCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountCustom) error) error {
	return afterIn(h, "linkcustom", fn)
}

func (h *Host) RegisterBeforeLinkApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountApple) (*api.AccountApple, error)) error {
	return before(h, "linkapple", fn)
}

func (h *Host) RegisterAfterLinkApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountApple) error) error {
	return afterIn(h, "linkapple", fn)
}

func (h *Host) RegisterBeforeLinkGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGoogle) (*api.AccountGoogle, error)) error {
	return before(h, "linkgoogle", fn)
}

func (h *Host) RegisterAfterLinkGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGoogle) error) error {
	return afterIn(h, "linkgoogle", fn)
}

func (h *Host) RegisterBeforeLinkGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGameCenter) (*api.AccountGameCenter, error)) error {
	return before(h, "linkgamecenter", fn)
}

func (h *Host) RegisterAfterLinkGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGameCenter) error) error {
	return afterIn(h, "linkgamecenter", fn)
}

func (h *Host) RegisterBeforeLinkFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.LinkFacebookRequest) (*api.LinkFacebookRequest, error)) error {
	return before(h, "linkfacebook", fn)
}

func (h *Host) RegisterAfterLinkFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.LinkFacebookRequest) error) error {
	return afterIn(h, "linkfacebook", fn)
}

func (h *Host) RegisterBeforeLinkFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebookInstantGame) (*api.AccountFacebookInstantGame, error)) error {
	return before(h, "linkfacebookinstantgame", fn)
}

func (h *Host) RegisterAfterLinkFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebookInstantGame) error) error {
	return afterIn(h, "linkfacebookinstantgame", fn)
}

func (h *Host) RegisterBeforeLinkSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.LinkSteamRequest) (*api.LinkSteamRequest, error)) error {
	return before(h, "linksteam", fn)
}

func (h *Host) RegisterAfterLinkSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.LinkSteamRequest) error) error {
	return afterIn(h, "linksteam", fn)
}

func (h *Host) RegisterBeforeUnlinkDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountDevice) (*api.AccountDevice, error)) error {
	return before(h, "unlinkdevice", fn)
}

func (h *Host) RegisterAfterUnlinkDevice(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountDevice) error) error {
	return afterIn(h, "unlinkdevice", fn)
}

func (h *Host) RegisterBeforeUnlinkEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountEmail) (*api.AccountEmail, error)) error {
	return before(h, "unlinkemail", fn)
}

func (h *Host) RegisterAfterUnlinkEmail(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountEmail) error) error {
	return afterIn(h, "unlinkemail", fn)
}

func (h *Host) RegisterBeforeUnlinkCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountCustom) (*api.AccountCustom, error)) error {
	return before(h, "unlinkcustom", fn)
}

func (h *Host) RegisterAfterUnlinkCustom(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountCustom) error) error {
	return afterIn(h, "unlinkcustom", fn)
}

func (h *Host) RegisterBeforeUnlinkApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountApple) (*api.AccountApple, error)) error {
	return before(h, "unlinkapple", fn)
}

func (h *Host) RegisterAfterUnlinkApple(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountApple) error) error {
	return afterIn(h, "unlinkapple", fn)
}

func (h *Host) RegisterBeforeUnlinkGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGoogle) (*api.AccountGoogle, error)) error {
	return before(h, "unlinkgoogle", fn)
}

func (h *Host) RegisterAfterUnlinkGoogle(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGoogle) error) error {
	return afterIn(h, "unlinkgoogle", fn)
}

func (h *Host) RegisterBeforeUnlinkGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGameCenter) (*api.AccountGameCenter, error)) error {
	return before(h, "unlinkgamecenter", fn)
}

func (h *Host) RegisterAfterUnlinkGameCenter(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountGameCenter) error) error {
	return afterIn(h, "unlinkgamecenter", fn)
}

func (h *Host) RegisterBeforeUnlinkFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebook) (*api.AccountFacebook, error)) error {
	return before(h, "unlinkfacebook", fn)
}

func (h *Host) RegisterAfterUnlinkFacebook(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebook) error) error {
	return afterIn(h, "unlinkfacebook", fn)
}

func (h *Host) RegisterBeforeUnlinkFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebookInstantGame) (*api.AccountFacebookInstantGame, error)) error {
	return before(h, "unlinkfacebookinstantgame", fn)
}

func (h *Host) RegisterAfterUnlinkFacebookInstantGame(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountFacebookInstantGame) error) error {
	return afterIn(h, "unlinkfacebookinstantgame", fn)
}

func (h *Host) RegisterBeforeUnlinkSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountSteam) (*api.AccountSteam, error)) error {
	return before(h, "unlinksteam", fn)
}

func (h *Host) RegisterAfterUnlinkSteam(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.AccountSteam) error) error {
	return afterIn(h, "unlinksteam", fn)
}

func (h *Host) RegisterBeforeDeleteAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error) error {
	return beforeCaller(h, "deleteaccount", fn)
}

func (h *Host) RegisterAfterDeleteAccount(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error) error {
	if fn == nil {
		return errors.New("hook function is nil")
	}
	return h.setAfter("deleteaccount", func(ctx context.Context, _, _ any) error {
		return fn(ctx, h.logger("after deleteaccount"), h.d.DB, h.nk)
	})
}

func (h *Host) RegisterBeforeGetUsers(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.GetUsersRequest) (*api.GetUsersRequest, error)) error {
	return before(h, "getusers", fn)
}

func (h *Host) RegisterAfterGetUsers(fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *api.Users, *api.GetUsersRequest) error) error {
	return afterOut(h, "getusers", fn)
}
