package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Photon configures the built-in Photon custom-authentication provider (photon.* in the config; see
// docs/trusting-players.md). The zero value, with no Path, is off.
type Photon struct {
	Path        string // the provider URL's path on the client port
	TokenParam  string // the parameter holding the player's join ticket or session token
	Secret      string // "" : no secret required
	SecretParam string
	Audience    string // the audience of the join tickets accepted
	// AcceptSessionTokens admits players by their session token too, not only by a join ticket.
	AcceptSessionTokens bool
	// AuthCookieVars and DataVars name the session variables answered in AuthCookie and Data.
	AuthCookieVars, DataVars []string
	// Tickets redeems the join tickets; nil refuses them.
	Tickets *tickets.Service
}

// CheckPhotonPath reports why p cannot be the Photon provider's path: it is not a clean absolute path
// (ServeMux would answer it with a redirect, which Photon does not follow), or one of the API's own routes
// already serves it.
func CheckPhotonPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("photon.path: %q is not a clean absolute path", p)
	}
	a := New(Deps{})
	if _, pattern := a.mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}}); pattern != "/" {
		return fmt.Errorf("photon.path: %q is served by Latchkey's own route %q", p, pattern)
	}
	return nil
}

// photonDeadline bounds the store work of one decision (redeeming a ticket, naming a ban). Photon waits
// only briefly for the provider: a late answer is no answer, which Photon takes for the provider being
// down, so a stalled store must become a refusal ("try again") while Photon still listens.
const photonDeadline = 2 * time.Second

// Photon's result codes.
const (
	photonOK      = 1 // authenticated
	photonFailed  = 2 // wrong credentials
	photonInvalid = 3 // invalid or missing parameters
)

// Why the provider refuses a call. Each is answered as one row of photonRefusals says.
var (
	errPhotonParamMissing   = errors.New("photon: parameter missing")
	errPhotonParamNotString = errors.New("photon: parameter not a string")
	errPhotonSecretWrong    = errors.New("photon: wrong secret")
	errPhotonBodyNotObject  = errors.New("photon: body not a JSON object")
	errPhotonSessionTokens  = errors.New("photon: session tokens not accepted")
	errPhotonTicketsOff     = errors.New("photon: join tickets off")
	errPhotonAccountBanned  = errors.New("photon: account banned")
	errPhotonAccountGone    = errors.New("photon: account deleted")
)

// photonRefusals is the one place where the provider's refusals become Photon answers: a result code and
// the Message the client receives (OnCustomAuthenticationFailed). A %s in a message is what the
// photonArgError names. Every refusal is an HTTP 200: Photon takes an HTTP error for the provider being down.
var photonRefusals = []struct {
	err  error
	code int
	msg  string
}{
	{errPhotonParamMissing, photonInvalid, "Parameter %s is missing."},
	{errPhotonParamNotString, photonInvalid, "Parameter %s must be a string."},
	{errPhotonSecretWrong, photonInvalid, "Parameter %s is wrong: check the provider's parameters in the Photon dashboard."},
	{errPhotonBodyNotObject, photonInvalid, "Request body must be a JSON object."},
	{errBodyTooLarge, photonInvalid, "Request body too large."},
	{errPhotonSessionTokens, photonFailed, "Session tokens are not accepted; connect with a join ticket."},
	{errPhotonTicketsOff, photonFailed, "Join tickets are not enabled on this server."},
	{tickets.ErrExpired, photonFailed, "Join ticket expired; ask for a new one."},
	{tickets.ErrRedeemed, photonFailed, "Join ticket already used; ask for a new one."},
	{tickets.ErrAudience, photonFailed, "Join ticket is for another audience; ask for one with audience \"%s\"."},
	{tickets.ErrRevoked, photonFailed, "Session has ended; log in again."},
	{tickets.ErrMalformed, photonFailed, "Invalid join ticket."},
	{tickets.ErrSignature, photonFailed, "Invalid join ticket."},
	{tickets.ErrClaims, photonFailed, "Invalid join ticket."},
	{errPhotonAccountBanned, photonFailed, "User account banned."},
	{errPhotonAccountGone, photonFailed, "User account deleted."},
	{tokens.ErrExpired, photonFailed, "Session token expired; refresh the session and connect again."},
	{sessions.ErrRevoked, photonFailed, "Session has ended; log in again."},
	{tokens.ErrMalformed, photonFailed, "Invalid session token."},
	{tokens.ErrSignature, photonFailed, "Invalid session token."},
}

// photonArgError is a refusal whose message names something: a parameter, the audience expected.
type photonArgError struct {
	err error
	arg string
}

func (e *photonArgError) Error() string { return e.err.Error() + ": " + e.arg }
func (e *photonArgError) Unwrap() error { return e.err }

// photonResult is the JSON object Photon reads. ResultCode is required; the other fields are left out
// when empty, and UserId, Nickname, AuthCookie and Data are only sent on success, Message on failure.
type photonResult struct {
	ResultCode int               `json:"ResultCode"`
	UserID     string            `json:"UserId,omitempty"`
	Nickname   string            `json:"Nickname,omitempty"`
	AuthCookie map[string]string `json:"AuthCookie,omitempty"`
	Data       map[string]string `json:"Data,omitempty"`
	Message    string            `json:"Message,omitempty"`
}

// photonPlayer is the player a token names.
type photonPlayer struct {
	userID, username, sessionID string
	vars                        map[string]string
}

// photonAuth answers Photon's custom-authentication call (GET, or POST when the client sets AuthPostData).
// Parameters come from the query, where Photon also puts the dashboard's, and from a JSON object body;
// the query wins a clash. Every answer is an HTTP 200 with a ResultCode, refusals included: Photon takes
// HTTP errors for the provider being down, backs off, and then admits or refuses every player by its
// "reject if unavailable" switch, so even a misconfigured secret must be a refusal that says why.
func (a *API) photonAuth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), photonDeadline)
	defer cancel()
	res := a.photonDecide(w, r.WithContext(ctx))
	ct := "text/plain" // as the photon-auth example answers Photon's GET, which has no Content-Type
	if isJSON(r) {
		ct = "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h["Cache-Control"] = headerNoStore
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

// photonDecide checks the call and the token and returns Photon's answer.
func (a *API) photonDecide(w http.ResponseWriter, r *http.Request) photonResult {
	p := &a.photon
	params, err := a.photonParams(w, r)
	if err != nil {
		return a.photonRefusal(err)
	}
	if p.Secret != "" {
		secret, err := params.get(p.SecretParam)
		if err != nil {
			return a.photonRefusal(err)
		}
		if subtle.ConstantTimeCompare([]byte(secret), []byte(p.Secret)) != 1 {
			ip, _ := a.clientAddr(r)
			a.log.Warn("photon: call with a wrong secret refused; check the provider's parameters in the Photon dashboard",
				"client_ip", ip, "param", p.SecretParam)
			return a.photonRefusal(&photonArgError{errPhotonSecretWrong, p.SecretParam})
		}
	}
	token, err := params.get(p.TokenParam)
	if err != nil {
		return a.photonRefusal(err)
	}
	player, err := a.photonPlayer(r.Context(), token)
	if err != nil {
		return a.photonRefusal(err)
	}
	markUser(w, player.userID)
	res := photonResult{ResultCode: photonOK, UserID: player.userID, Nickname: player.username,
		AuthCookie: pickVars(player.vars, p.AuthCookieVars, 1), Data: pickVars(player.vars, p.DataVars, 0)}
	res.AuthCookie["session_id"] = player.sessionID
	return res
}

// photonPlayer checks a token and returns its player.
func (a *API) photonPlayer(ctx context.Context, token string) (photonPlayer, error) {
	if isTicket(token) {
		return a.photonTicket(ctx, token)
	}
	if !a.photon.AcceptSessionTokens {
		return photonPlayer{}, errPhotonSessionTokens
	}
	c, err := a.sessions.Validate(token)
	if errors.Is(err, sessions.ErrRevoked) && !errors.Is(err, sessions.ErrOtherStore) {
		err = a.endedWhy(ctx, c.UserID, err)
	}
	if err != nil {
		return photonPlayer{}, err
	}
	return photonPlayer{userID: c.UserID, username: c.Username, sessionID: c.TokenID, vars: c.Vars}, nil
}

// photonTicket redeems a join ticket for photon.audience: once, across every node.
func (a *API) photonTicket(ctx context.Context, token string) (photonPlayer, error) {
	tk, aud := a.photon.Tickets, a.photon.Audience
	if tk == nil {
		return photonPlayer{}, errPhotonTicketsOff
	}
	c, err := tk.Redeem(ctx, token, aud)
	switch {
	case errors.Is(err, tickets.ErrAudience):
		return photonPlayer{}, &photonArgError{err, aud}
	case errors.Is(err, tickets.ErrRevoked):
		// Redeem keeps no claims of a refused ticket; Verify, which redeems nothing, names the account.
		if vc, verr := tk.Verify(token, aud); verr == nil {
			return photonPlayer{}, a.endedWhy(ctx, vc.UserID, err)
		}
		return photonPlayer{}, err
	case err != nil:
		return photonPlayer{}, err
	}
	return photonPlayer{userID: c.UserID, username: c.Username, sessionID: c.SessionID, vars: c.Vars}, nil
}

// endedWhy names a ban or a deletion behind an ended session, for the message; only refusals pay for the
// account read. Validate keeps the claims of a revoked token so that the account can be named.
func (a *API) endedWhy(ctx context.Context, userID string, ended error) error {
	if userID == "" {
		return ended
	}
	u, err := a.accounts.Account(ctx, userID)
	switch {
	case errors.Is(err, accounts.ErrAccountNotFound):
		return errPhotonAccountGone
	case err == nil && u.Banned():
		return errPhotonAccountBanned
	}
	return ended
}

// photonRefusal is the answer to a refused call. The cause is logged at debug level; neither it nor the
// answer carries the token or the secret.
func (a *API) photonRefusal(err error) photonResult {
	arg := ""
	var ae *photonArgError
	if errors.As(err, &ae) {
		arg = ae.arg
	}
	for _, f := range photonRefusals {
		if errors.Is(err, f.err) {
			a.log.Debug("photon: refused", "reason", err)
			msg := f.msg
			if strings.Contains(msg, "%s") {
				msg = fmt.Sprintf(msg, arg)
			}
			return photonResult{ResultCode: f.code, Message: msg}
		}
	}
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn("photon: could not check a player", "err", err)
	} else {
		a.log.Error("photon: could not check a player", "err", err)
	}
	return photonResult{ResultCode: photonFailed, Message: "Could not check the player now; try again."}
}

// pickVars returns the named variables that vars holds, in a map with room for extra more; nil when there
// are none and no room is asked for.
func pickVars(vars map[string]string, names []string, extra int) map[string]string {
	var out map[string]string
	for _, n := range names {
		if v, ok := vars[n]; ok {
			if out == nil {
				out = make(map[string]string, len(names)+extra)
			}
			out[n] = v
		}
	}
	if out == nil && extra > 0 {
		out = make(map[string]string, extra)
	}
	return out
}

// photonParams are a call's parameters: the query's, then the JSON body's.
type photonParams struct {
	query url.Values
	body  map[string]json.RawMessage
}

// photonParams reads the query and, for a POST of application/json, the body, which must be a JSON
// object (Photon's AuthPostData dictionary); other bodies are not read.
func (a *API) photonParams(w http.ResponseWriter, r *http.Request) (photonParams, error) {
	p := photonParams{query: r.URL.Query()}
	if r.Method != http.MethodPost || !isJSON(r) {
		return p, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return p, errBodyTooLarge
		}
		return p, errPhotonBodyNotObject
	}
	if body = bytes.TrimSpace(body); len(body) == 0 {
		return p, nil
	}
	if body[0] != '{' || json.Unmarshal(body, &p.body) != nil {
		return p, errPhotonBodyNotObject
	}
	return p, nil
}

// get returns a parameter's value: the query's first, else the body's, which must be a string. An empty
// value is a missing one.
func (p photonParams) get(name string) (string, error) {
	if v := p.query.Get(name); v != "" {
		return v, nil
	}
	var v string
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", &photonArgError{errPhotonParamNotString, name}
		}
	}
	if v == "" {
		return "", &photonArgError{errPhotonParamMissing, name}
	}
	return v, nil
}

// isJSON reports whether the request says its body is JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// isTicket reports whether a token is a join ticket rather than a session token, from its header's
// algorithm: tickets are signed with a key pair (EdDSA, ES256), session tokens with HS256.
func isTicket(token string) bool {
	head, _, ok := strings.Cut(token, ".")
	if !ok || len(head) > 512 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && (h.Alg == "EdDSA" || h.Alg == "ES256")
}
