package httpapi

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// maxVarsBytes caps a session's variables (keys plus values). They ride in every token, and a token that
// outgrows HTTP header limits would lock its holder out in a way that is hard to diagnose.
const maxVarsBytes = 4096

// call runs one API call through the hooks: the before-hook may change the request or refuse it, the
// after-hook sees the result. As in Nakama, an after-hook's error is logged, not sent: the call has
// already happened.
func call[Req, Resp any](a *API, ctx context.Context, name string, req *Req, fn func(context.Context, *Req) (*Resp, error)) (*Resp, error) {
	if a.hooks != nil {
		out, err := a.hooks.Before(ctx, name, req)
		if err != nil {
			return nil, err
		}
		changed, ok := out.(*Req)
		if !ok || changed == nil {
			return nil, errHookDisabled
		}
		req = changed
	}
	resp, err := fn(ctx, req)
	if err != nil {
		return nil, err
	}
	if a.hooks != nil {
		if err := a.hooks.After(ctx, name, req, resp); err != nil {
			a.log.Warn("after-hook failed", "hook", name, "err", err)
		}
	}
	return resp, nil
}

func (a *API) healthcheck(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, api.Empty{})
	return nil
}

// authParams reads the query parameters every authentication takes.
func authParams(r *http.Request) (create *bool, username string, err error) {
	q := r.URL.Query()
	if _, ok := q["create"]; ok {
		c, err := queryBool(r, "create", true)
		if err != nil {
			return nil, "", err
		}
		create = &c
	}
	return create, q.Get("username"), nil
}

func createOf(c *bool) bool { return c == nil || *c }

func (a *API) authenticateDevice(w http.ResponseWriter, r *http.Request) error {
	req := &api.AuthenticateDeviceRequest{Account: &api.AccountDevice{}}
	if err := a.decodeBody(w, r, req.Account); err != nil {
		return err
	}
	var err error
	if req.Create, req.Username, err = authParams(r); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "authenticatedevice", req, func(ctx context.Context, req *api.AuthenticateDeviceRequest) (*api.Session, error) {
		acct := req.Account
		if acct == nil {
			acct = &api.AccountDevice{}
		}
		if err := checkVars(acct.Vars); err != nil {
			return nil, err
		}
		res, err := a.accounts.AuthenticateDevice(ctx, acct.ID, req.Username, createOf(req.Create))
		if err != nil {
			return nil, err
		}
		return a.issue(ctx, r, res, acct.Vars)
	})
	return respond(w, resp, err)
}

func (a *API) authenticateEmail(w http.ResponseWriter, r *http.Request) error {
	req := &api.AuthenticateEmailRequest{Account: &api.AccountEmail{}}
	if err := a.decodeBody(w, r, req.Account); err != nil {
		return err
	}
	var err error
	if req.Create, req.Username, err = authParams(r); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "authenticateemail", req, func(ctx context.Context, req *api.AuthenticateEmailRequest) (*api.Session, error) {
		acct := req.Account
		if acct == nil {
			return nil, accounts.ErrEmailRequired
		}
		if err := checkVars(acct.Vars); err != nil {
			return nil, err
		}
		res, err := a.accounts.AuthenticateEmail(ctx, acct.Email, acct.Password, req.Username, createOf(req.Create))
		if err != nil {
			return nil, err
		}
		return a.issue(ctx, r, res, acct.Vars)
	})
	return respond(w, resp, err)
}

func (a *API) authenticateCustom(w http.ResponseWriter, r *http.Request) error {
	req := &api.AuthenticateCustomRequest{Account: &api.AccountCustom{}}
	if err := a.decodeBody(w, r, req.Account); err != nil {
		return err
	}
	var err error
	if req.Create, req.Username, err = authParams(r); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "authenticatecustom", req, func(ctx context.Context, req *api.AuthenticateCustomRequest) (*api.Session, error) {
		acct := req.Account
		if acct == nil {
			acct = &api.AccountCustom{}
		}
		if err := checkVars(acct.Vars); err != nil {
			return nil, err
		}
		res, err := a.accounts.AuthenticateCustom(ctx, acct.ID, req.Username, createOf(req.Create))
		if err != nil {
			return nil, err
		}
		return a.issue(ctx, r, res, acct.Vars)
	})
	return respond(w, resp, err)
}

// issue starts a session for an authenticated account.
func (a *API) issue(ctx context.Context, r *http.Request, res accounts.Result, vars map[string]string) (*api.Session, error) {
	is, err := a.sessions.Issue(ctx, res.User, vars, a.clientMeta(r))
	if err != nil {
		return nil, err
	}
	a.authenticated(r, res.Created)
	return &api.Session{Created: res.Created, Token: is.Token, RefreshToken: is.RefreshToken}, nil
}

func (a *API) sessionRefresh(w http.ResponseWriter, r *http.Request) error {
	req := &api.SessionRefreshRequest{}
	if err := a.decodeBody(w, r, req); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "sessionrefresh", req, func(ctx context.Context, req *api.SessionRefreshRequest) (*api.Session, error) {
		if err := checkVars(req.Vars); err != nil {
			return nil, err
		}
		is, err := a.sessions.Refresh(ctx, req.Token, req.Vars, a.clientMeta(r))
		if err != nil {
			return nil, err
		}
		return &api.Session{Token: is.Token, RefreshToken: is.RefreshToken}, nil
	})
	return respond(w, resp, err)
}

func (a *API) sessionLogout(w http.ResponseWriter, r *http.Request) error {
	req := &api.SessionLogoutRequest{}
	if err := a.decodeBody(w, r, req); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "sessionlogout", req, func(ctx context.Context, req *api.SessionLogoutRequest) (*api.Empty, error) {
		if err := a.sessions.Logout(ctx, callerFrom(ctx), req.Token, req.RefreshToken, req.Scope, a.clientMeta(r)); err != nil {
			return nil, err
		}
		return &api.Empty{}, nil
	})
	return respond(w, resp, err)
}

// maxSessionsPage is the default and largest page of GET /v2/account/sessions.
const maxSessionsPage = 100

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := &api.SessionListRequest{Limit: maxSessionsPage, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSessionsPage {
			return badRequest("Invalid limit - limit must be between 1 and %d.", maxSessionsPage)
		}
		req.Limit = n
	}
	resp, err := call(a, r.Context(), "listsessions", req, func(ctx context.Context, req *api.SessionListRequest) (*api.SessionList, error) {
		caller := callerFrom(ctx)
		// A before hook may have changed the request; the page stays within bounds.
		limit := req.Limit
		if limit < 1 || limit > maxSessionsPage {
			limit = maxSessionsPage
		}
		list, cursor, err := a.sessions.List(ctx, caller.UserID, req.Cursor, limit)
		if err != nil {
			return nil, err
		}
		out := &api.SessionList{Sessions: make([]api.SessionInfo, len(list)), Cursor: cursor}
		for i, s := range list {
			out.Sessions[i] = api.SessionInfo{
				ID: s.ID, CreateTime: timestamp(s.CreateTime), RefreshTime: timestamp(s.RefreshTime),
				ExpireTime: timestamp(s.ExpireTime), UserAgent: s.UserAgent, ClientIP: s.ClientIP,
				Current: s.ID == caller.TokenID,
			}
		}
		return out, nil
	})
	return respond(w, resp, err)
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	req := &api.SessionDeleteRequest{ID: r.PathValue("id")}
	resp, err := call(a, r.Context(), "deletesession", req, func(ctx context.Context, req *api.SessionDeleteRequest) (*api.Empty, error) {
		if err := a.sessions.End(ctx, callerFrom(ctx).UserID, req.ID, a.clientMeta(r)); err != nil {
			return nil, err
		}
		return &api.Empty{}, nil
	})
	return respond(w, resp, err)
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	if a.hooks == nil {
		// Without hooks nothing sees the Account message, so the answer is the body the account cache
		// keeps, encoded once per entry.
		body, err := a.accounts.AccountView(r.Context(), callerFrom(r.Context()).UserID, a.accountView)
		if err != nil {
			return err
		}
		writeBody(w, http.StatusOK, body)
		return nil
	}
	resp, err := call(a, r.Context(), "getaccount", &api.Empty{}, func(ctx context.Context, _ *api.Empty) (*api.Account, error) {
		u, err := a.accounts.Account(ctx, callerFrom(ctx).UserID)
		if err != nil {
			return nil, err
		}
		return ownAccountJSON(u), nil
	})
	return respond(w, resp, err)
}

// ownAccountJSON is the Account message of GET /v2/account: AccountJSON without disable_time, which is
// never shown to the account's owner, as in Nakama.
func ownAccountJSON(u *storage.User) *api.Account {
	acc := AccountJSON(u)
	acc.DisableTime = ""
	return acc
}

// ownAccountBody renders GET /v2/account's answer body, for the account cache (see accounts.View).
func ownAccountBody(u *storage.User) ([]byte, error) {
	return marshalJSON(ownAccountJSON(u))
}

func (a *API) updateAccount(w http.ResponseWriter, r *http.Request) error {
	req := &api.UpdateAccountRequest{}
	if err := a.decodeBody(w, r, req); err != nil {
		return err
	}
	resp, err := call(a, r.Context(), "updateaccount", req, func(ctx context.Context, req *api.UpdateAccountRequest) (*api.Empty, error) {
		err := a.accounts.UpdateAccount(ctx, callerFrom(ctx).UserID, accounts.Profile{
			Username: req.Username, DisplayName: req.DisplayName, AvatarURL: req.AvatarURL,
			LangTag: req.LangTag, Location: req.Location, Timezone: req.Timezone,
		})
		if err != nil {
			return nil, err
		}
		return &api.Empty{}, nil
	})
	return respond(w, resp, err)
}

func respond[Resp any](w http.ResponseWriter, resp *Resp, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func checkVars(vars map[string]string) error {
	n := 0
	for k, v := range vars {
		n += len(k) + len(v)
	}
	if n > maxVarsBytes {
		return errVarsTooLarge
	}
	return nil
}

// AccountJSON converts a stored account to Nakama's Account message, disable_time included.
func AccountJSON(u *storage.User) *api.Account {
	acc := &api.Account{
		User:   UserJSON(u),
		Wallet: u.Wallet, Email: u.Email, CustomID: u.CustomID,
		VerifyTime: timestamp(u.VerifyTime), DisableTime: timestamp(u.DisableTime),
	}
	devices := append([]string(nil), u.Devices...)
	sort.Strings(devices)
	for _, d := range devices {
		acc.Devices = append(acc.Devices, api.AccountDeviceID{ID: d})
	}
	return acc
}

// UserJSON converts a stored account to Nakama's User message: the public profile.
func UserJSON(u *storage.User) *api.User {
	return &api.User{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL,
		LangTag: u.LangTag, Location: u.Location, Timezone: u.Timezone, Metadata: u.Metadata,
		FacebookID: u.FacebookID, GoogleID: u.GoogleID, GamecenterID: u.GameCenterID, SteamID: u.SteamID,
		FacebookInstantGameID: u.FacebookInstantGameID, AppleID: u.AppleID,
		CreateTime: timestamp(u.CreateTime), UpdateTime: timestamp(u.UpdateTime),
	}
}

// timestamp writes a time as Nakama does: RFC 3339, whole seconds, UTC; the zero time is omitted.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
