package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Platforms verifies platform sign-in credentials (internal/social).
type Platforms interface {
	Apple(ctx context.Context, idToken string) (social.Identity, error)
	Google(ctx context.Context, idToken string) (social.Identity, error)
	Facebook(ctx context.Context, token string) (social.Identity, error)
	FacebookInstantGame(ctx context.Context, signedPlayerInfo string) (social.Identity, error)
	Steam(ctx context.Context, ticket string) (social.Identity, error)
	GameCenter(ctx context.Context, c social.GameCenterCredential) (social.Identity, error)
}

// PlatformError is a failed platform verification, named for the client: the platform's wire answer
// depends on why (see toWire). Server functions wrap their verification errors in it too.
type PlatformError struct {
	Name string // "Apple", "Google", "GameCenter", "Steam", "Facebook", "Facebook Instant Game"
	Err  error
}

func (e *PlatformError) Error() string { return e.Name + " verification: " + e.Err.Error() }
func (e *PlatformError) Unwrap() error { return e.Err }

// platformWire is the answer to a failed verification.
func platformWire(e *PlatformError) api.Error {
	switch {
	case errors.Is(e.Err, social.ErrNotConfigured):
		return api.Error{Code: api.CodeFailedPrecondition, Message: e.Name + " sign-in is not configured on this server."}
	case errors.Is(e.Err, social.ErrUnavailable), errors.Is(e.Err, context.DeadlineExceeded):
		return api.Error{Code: api.CodeUnavailable, Message: e.Name + " could not be reached, try again."}
	}
	return api.Error{Code: api.CodeUnauthenticated, Message: "Could not authenticate " + e.Name + " profile."}
}

// identified is what a request's credential names: the kind of identity, the identity, and for email the
// password.
type identified struct {
	kind     storage.IdentityKind
	id       string
	password string
}

// The identify functions check a credential (with the platform, for platform credentials) and say which
// identity it is. Authenticate, link and unlink share them.

func identifyDevice(a *API, _ context.Context, acct *api.AccountDevice) (identified, error) {
	return identified{kind: storage.IdentityDevice, id: acct.ID}, nil
}

func identifyEmail(a *API, _ context.Context, acct *api.AccountEmail) (identified, error) {
	return identified{kind: storage.IdentityEmail, id: acct.Email, password: acct.Password}, nil
}

func identifyCustom(a *API, _ context.Context, acct *api.AccountCustom) (identified, error) {
	return identified{kind: storage.IdentityCustom, id: acct.ID}, nil
}

// verified runs a platform check and names the identity it proves.
func verified(kind storage.IdentityKind, name, credential, required string, check func() (social.Identity, error)) (identified, error) {
	if credential == "" {
		return identified{}, badRequest("%s", required)
	}
	id, err := check()
	if err != nil {
		return identified{}, &PlatformError{Name: name, Err: err}
	}
	return identified{kind: kind, id: id.ID}, nil
}

func identifyApple(a *API, ctx context.Context, acct *api.AccountApple) (identified, error) {
	return verified(storage.IdentityApple, "Apple", acct.Token, "Apple ID token is required.", func() (social.Identity, error) {
		return a.platforms.Apple(ctx, acct.Token)
	})
}

func identifyGoogle(a *API, ctx context.Context, acct *api.AccountGoogle) (identified, error) {
	return verified(storage.IdentityGoogle, "Google", acct.Token, "Google access token is required.", func() (social.Identity, error) {
		return a.platforms.Google(ctx, acct.Token)
	})
}

func identifyFacebook(a *API, ctx context.Context, acct *api.AccountFacebook) (identified, error) {
	return verified(storage.IdentityFacebook, "Facebook", acct.Token, "Facebook access token is required.", func() (social.Identity, error) {
		return a.platforms.Facebook(ctx, acct.Token)
	})
}

func identifyFacebookInstantGame(a *API, ctx context.Context, acct *api.AccountFacebookInstantGame) (identified, error) {
	return verified(storage.IdentityFacebookInstantGame, "Facebook Instant Game", acct.SignedPlayerInfo,
		"Signed player info for a Facebook Instant Game is required.", func() (social.Identity, error) {
			return a.platforms.FacebookInstantGame(ctx, acct.SignedPlayerInfo)
		})
}

func identifySteam(a *API, ctx context.Context, acct *api.AccountSteam) (identified, error) {
	return verified(storage.IdentitySteam, "Steam", acct.Token, "Steam access token is required.", func() (social.Identity, error) {
		return a.platforms.Steam(ctx, acct.Token)
	})
}

func identifyGameCenter(a *API, ctx context.Context, acct *api.AccountGameCenter) (identified, error) {
	for _, f := range []struct{ v, msg string }{
		{acct.PlayerID, "GameCenter ID is required."},
		{acct.BundleID, "GameCenter bundle ID is required."},
		{acct.Salt, "GameCenter salt is required."},
		{acct.Signature, "GameCenter signature is required."},
		{acct.PublicKeyURL, "GameCenter public key URL is required."},
	} {
		if f.v == "" {
			return identified{}, badRequest("%s", f.msg)
		}
	}
	if acct.TimestampSeconds == 0 {
		return identified{}, badRequest("GameCenter timestamp is required.")
	}
	return verified(storage.IdentityGameCenter, "GameCenter", acct.PlayerID, "GameCenter ID is required.", func() (social.Identity, error) {
		return a.platforms.GameCenter(ctx, social.GameCenterCredential{
			PlayerID: acct.PlayerID, BundleID: acct.BundleID, TimestampSeconds: int64(acct.TimestampSeconds),
			Salt: acct.Salt, Signature: acct.Signature, PublicKeyURL: acct.PublicKeyURL,
		})
	})
}

// authRoute serves one authenticate route for a platform: Req is the hook's request type (body in
// Account, query parameters beside it), Acct the body.
func authRoute[Req, Acct any](a *API, hook string, withSync bool, parts func(*Req) (**Acct, **bool, *string, **bool),
	vars func(*Acct) map[string]string, identify func(*API, context.Context, *Acct) (identified, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req := new(Req)
		acctp, createp, usernamep, syncp := parts(req)
		*acctp = new(Acct)
		if err := a.decodeBody(w, r, *acctp); err != nil {
			return err
		}
		var err error
		if *createp, *usernamep, err = authParams(r); err != nil {
			return err
		}
		if withSync {
			if *syncp, err = optionalBool(r, "sync"); err != nil {
				return err
			}
		}
		resp, err := call(a, r.Context(), hook, req, func(ctx context.Context, req *Req) (*api.Session, error) {
			acctp, createp, usernamep, _ := parts(req)
			acct := *acctp
			if acct == nil {
				acct = new(Acct)
			}
			if err := checkVars(vars(acct)); err != nil {
				return nil, err
			}
			who, err := identify(a, ctx, acct)
			if err != nil {
				return nil, err
			}
			res, err := a.accounts.AuthenticatePlatform(ctx, who.kind, who.id, *usernamep, createOf(*createp))
			if err != nil {
				return nil, err
			}
			return a.issue(ctx, r, res, vars(acct))
		})
		return respond(w, resp, err)
	}
}

// optionalBool reads an optional boolean query parameter as a pointer (nil when absent).
func optionalBool(r *http.Request, name string) (*bool, error) {
	if _, ok := r.URL.Query()[name]; !ok {
		return nil, nil
	}
	b, err := queryBool(r, name, false)
	return &b, err
}

// identityRoute serves one link or unlink route: Req is the hook's request type, acct finds the credential
// in it.
func identityRoute[Req, Acct any](a *API, hook string, unlink bool, decode func(http.ResponseWriter, *http.Request, *Req) error,
	acct func(*Req) *Acct, identify func(*API, context.Context, *Acct) (identified, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req := new(Req)
		if err := decode(w, r, req); err != nil {
			return err
		}
		resp, err := call(a, r.Context(), hook, req, func(ctx context.Context, req *Req) (*api.Empty, error) {
			c := acct(req)
			if c == nil {
				c = new(Acct)
			}
			who, err := identify(a, ctx, c)
			if err != nil {
				return nil, err
			}
			uid := callerFrom(ctx).UserID
			if unlink {
				err = a.accounts.Unlink(ctx, uid, who.kind, who.id)
			} else {
				err = a.accounts.Link(ctx, uid, who.kind, who.id, who.password)
			}
			if err != nil {
				return nil, err
			}
			return &api.Empty{}, nil
		})
		return respond(w, resp, err)
	}
}

// bodyRoute is identityRoute for the routes whose request is the credential itself.
func bodyRoute[Acct any](a *API, hook string, unlink bool, identify func(*API, context.Context, *Acct) (identified, error)) handlerFunc {
	return identityRoute(a, hook, unlink,
		func(w http.ResponseWriter, r *http.Request, req *Acct) error { return a.decodeBody(w, r, req) },
		func(req *Acct) *Acct { return req }, identify)
}

// identityRoutes are the platform authenticate routes and every link and unlink route.
func (a *API) identityRoutes() []route {
	rt := []route{
		{"POST", "/v2/account/authenticate/apple", authServerKey, authRoute(a, "authenticateapple", false,
			func(r *api.AuthenticateAppleRequest) (**api.AccountApple, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, nil
			}, func(c *api.AccountApple) map[string]string { return c.Vars }, identifyApple)},
		{"POST", "/v2/account/authenticate/google", authServerKey, authRoute(a, "authenticategoogle", false,
			func(r *api.AuthenticateGoogleRequest) (**api.AccountGoogle, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, nil
			}, func(c *api.AccountGoogle) map[string]string { return c.Vars }, identifyGoogle)},
		{"POST", "/v2/account/authenticate/facebook", authServerKey, authRoute(a, "authenticatefacebook", true,
			func(r *api.AuthenticateFacebookRequest) (**api.AccountFacebook, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, &r.Sync
			}, func(c *api.AccountFacebook) map[string]string { return c.Vars }, identifyFacebook)},
		{"POST", "/v2/account/authenticate/facebookinstantgame", authServerKey, authRoute(a, "authenticatefacebookinstantgame", false,
			func(r *api.AuthenticateFacebookInstantGameRequest) (**api.AccountFacebookInstantGame, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, nil
			}, func(c *api.AccountFacebookInstantGame) map[string]string { return c.Vars }, identifyFacebookInstantGame)},
		{"POST", "/v2/account/authenticate/steam", authServerKey, authRoute(a, "authenticatesteam", true,
			func(r *api.AuthenticateSteamRequest) (**api.AccountSteam, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, &r.Sync
			}, func(c *api.AccountSteam) map[string]string { return c.Vars }, identifySteam)},
		{"POST", "/v2/account/authenticate/gamecenter", authServerKey, authRoute(a, "authenticategamecenter", false,
			func(r *api.AuthenticateGameCenterRequest) (**api.AccountGameCenter, **bool, *string, **bool) {
				return &r.Account, &r.Create, &r.Username, nil
			}, func(c *api.AccountGameCenter) map[string]string { return c.Vars }, identifyGameCenter)},
	}
	// Link and unlink: the request is the credential, except link/facebook (sync in the query) and
	// link/steam ({"account", "sync"} body), whose hooks see Nakama's wrapper types.
	for _, unlink := range []bool{false, true} {
		verb := "link"
		if unlink {
			verb = "unlink"
		}
		rt = append(rt,
			route{"POST", "/v2/account/" + verb + "/device", authSession, bodyRoute(a, verb+"device", unlink, identifyDevice)},
			route{"POST", "/v2/account/" + verb + "/email", authSession, bodyRoute(a, verb+"email", unlink, identifyEmail)},
			route{"POST", "/v2/account/" + verb + "/custom", authSession, bodyRoute(a, verb+"custom", unlink, identifyCustom)},
			route{"POST", "/v2/account/" + verb + "/apple", authSession, bodyRoute(a, verb+"apple", unlink, identifyApple)},
			route{"POST", "/v2/account/" + verb + "/google", authSession, bodyRoute(a, verb+"google", unlink, identifyGoogle)},
			route{"POST", "/v2/account/" + verb + "/gamecenter", authSession, bodyRoute(a, verb+"gamecenter", unlink, identifyGameCenter)},
			route{"POST", "/v2/account/" + verb + "/facebookinstantgame", authSession, bodyRoute(a, verb+"facebookinstantgame", unlink, identifyFacebookInstantGame)},
		)
	}
	rt = append(rt,
		route{"POST", "/v2/account/unlink/facebook", authSession, bodyRoute(a, "unlinkfacebook", true, identifyFacebook)},
		route{"POST", "/v2/account/unlink/steam", authSession, bodyRoute(a, "unlinksteam", true, identifySteam)},
		route{"POST", "/v2/account/link/facebook", authSession, identityRoute(a, "linkfacebook", false,
			func(w http.ResponseWriter, r *http.Request, req *api.LinkFacebookRequest) error {
				req.Account = &api.AccountFacebook{}
				if err := a.decodeBody(w, r, req.Account); err != nil {
					return err
				}
				var err error
				req.Sync, err = optionalBool(r, "sync")
				return err
			}, func(req *api.LinkFacebookRequest) *api.AccountFacebook { return req.Account }, identifyFacebook)},
		route{"POST", "/v2/account/link/steam", authSession, identityRoute(a, "linksteam", false,
			func(w http.ResponseWriter, r *http.Request, req *api.LinkSteamRequest) error {
				return a.decodeBody(w, r, req)
			},
			func(req *api.LinkSteamRequest) *api.AccountSteam { return req.Account }, identifySteam)},
	)
	return rt
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	resp, err := call(a, r.Context(), "deleteaccount", &api.Empty{}, func(ctx context.Context, _ *api.Empty) (*api.Empty, error) {
		if err := a.sessions.DeleteAccount(ctx, callerFrom(ctx).UserID, "deleted by the player"); err != nil {
			return nil, err
		}
		return &api.Empty{}, nil
	})
	return respond(w, resp, err)
}

func (a *API) getUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := &api.GetUsersRequest{IDs: q["ids"], Usernames: q["usernames"], FacebookIDs: q["facebook_ids"]}
	resp, err := call(a, r.Context(), "getusers", req, func(ctx context.Context, req *api.GetUsersRequest) (*api.Users, error) {
		list, err := a.accounts.Users(ctx, req.IDs, req.Usernames, req.FacebookIDs)
		if err != nil {
			return nil, err
		}
		out := &api.Users{Users: make([]*api.User, 0, len(list))}
		for i := range list {
			out.Users = append(out.Users, UserJSON(&list[i]))
		}
		return out, nil
	})
	return respond(w, resp, err)
}
