package httpapi_test

import (
	"context"
	"encoding/json"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/server"
)

// photonAnswer is the JSON object Photon reads.
type photonAnswer struct {
	ResultCode int
	UserID     string `json:"UserId"`
	Nickname   string
	AuthCookie map[string]string
	Data       map[string]string
	Message    string
}

const photonSecret = "dashboard-only-secret-7f3a"

func photonConfig(t testing.TB) config.Config {
	cfg := testConfig(t)
	cfg.Photon.Enabled = true
	cfg.Photon.Secret = photonSecret
	cfg.Photon.AuthCookieVars = config.StringList{"team"}
	cfg.Photon.DataVars = config.StringList{"region", "absent"}
	return cfg
}

// photonCall is one call from Photon: the query (Photon's dashboard parameters and, in GET mode, the
// client's), and in POST mode the JSON body (AuthPostData) or another body with its Content-Type.
type photonCall struct {
	method      string
	query       url.Values
	body        string
	contentType string
}

// photon sends the call and returns the HTTP status, the answer's Content-Type and the decoded answer; it
// fails the test when the answer is not a JSON object.
func (e *env) photon(c photonCall) (int, string, photonAnswer) {
	e.t.Helper()
	req, err := http.NewRequest(c.method, e.http.URL+e.cfg.Photon.Path+"?"+c.query.Encode(), strings.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var a photonAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("%s: answer is not a JSON object: %d %q", c.method, res.StatusCode, raw)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), a
}

// photonModes builds the same call in Photon's two modes: GET with every parameter in the query, and
// POST with a JSON dictionary holding the client's parameters while the dashboard's secret stays in the
// query. A nil value leaves the parameter out.
var photonModes = []struct {
	name  string
	build func(token, secret *string) photonCall
	ctype string // the answer's Content-Type
}{
	{"GET", func(token, secret *string) photonCall {
		q := url.Values{}
		if token != nil {
			q.Set("token", *token)
		}
		if secret != nil {
			q.Set("secret", *secret)
		}
		return photonCall{method: "GET", query: q}
	}, "text/plain"},
	{"POST JSON", func(token, secret *string) photonCall {
		q := url.Values{}
		if secret != nil {
			q.Set("secret", *secret)
		}
		body := map[string]any{"client_version": 3}
		if token != nil {
			body["token"] = *token
		}
		b, _ := json.Marshal(body)
		return photonCall{method: "POST", query: q, body: string(b), contentType: "application/json"}
	}, "application/json"},
}

func ptr(s string) *string { return &s }

func TestPhotonResultCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, photonConfig(t))
	valid := e.authDevice("photon-device-valid", "", `{"team":"red","region":"eu","hidden":"x"}`)
	c := claims(e.t, valid.Token)
	noVars := e.authDevice("photon-device-novars", "", "")
	cn := claims(e.t, noVars.Token)

	loggedOut := e.authDevice("photon-device-logout", "", "")
	e.do("POST", "/v2/session/logout", "bearer:"+loggedOut.Token, `{"token":"`+loggedOut.Token+`"}`).wantOK(t)
	banned := e.authDevice("photon-device-banned", "", "")
	if _, err := e.srv.Sessions.Ban(context.Background(), claims(t, banned.Token)["uid"].(string), "test"); err != nil {
		t.Fatal(err)
	}
	deleted := e.authDevice("photon-device-delete", "", "")
	e.do("DELETE", "/v2/account", "bearer:"+deleted.Token, "").wantOK(t)

	sig := strings.LastIndex(valid.Token, ".") + 1
	flipped := "A"
	if valid.Token[sig] == 'A' {
		flipped = "B"
	}
	tampered := valid.Token[:sig] + flipped + valid.Token[sig+1:]

	secret := ptr(photonSecret)
	tests := []struct {
		name          string
		token, secret *string
		want          photonAnswer
	}{
		{"valid token, vars picked", ptr(valid.Token), secret, photonAnswer{ResultCode: 1, UserID: c["uid"].(string),
			Nickname: c["usn"].(string), AuthCookie: map[string]string{"team": "red", "session_id": c["tid"].(string)},
			Data: map[string]string{"region": "eu"}}},
		{"valid token without vars", ptr(noVars.Token), secret, photonAnswer{ResultCode: 1, UserID: cn["uid"].(string),
			Nickname: cn["usn"].(string), AuthCookie: map[string]string{"session_id": cn["tid"].(string)}}},
		{"no token", nil, secret, photonAnswer{ResultCode: 3, Message: "Parameter token is missing."}},
		{"empty token", ptr(""), secret, photonAnswer{ResultCode: 3, Message: "Parameter token is missing."}},
		{"no secret", ptr(valid.Token), nil, photonAnswer{ResultCode: 3, Message: "Parameter secret is missing."}},
		{"wrong secret", ptr(valid.Token), ptr("guess"), photonAnswer{ResultCode: 3,
			Message: "Parameter secret is wrong: check the provider's parameters in the Photon dashboard."}},
		{"garbage token", ptr("not-a-token"), secret, photonAnswer{ResultCode: 2, Message: "Invalid session token."}},
		{"tampered signature", ptr(tampered), secret, photonAnswer{ResultCode: 2, Message: "Invalid session token."}},
		{"logged-out token", ptr(loggedOut.Token), secret, photonAnswer{ResultCode: 2, Message: "Session has ended; log in again."}},
		{"banned account", ptr(banned.Token), secret, photonAnswer{ResultCode: 2, Message: "User account banned."}},
		{"deleted account", ptr(deleted.Token), secret, photonAnswer{ResultCode: 2, Message: "User account deleted."}},
	}
	for _, mode := range photonModes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				status, ctype, got := e.with(t).photon(mode.build(tt.token, tt.secret))
				if status != http.StatusOK || ctype != mode.ctype {
					t.Errorf("status %d, Content-Type %q; want 200, %q", status, ctype, mode.ctype)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("answer %+v; want %+v", got, tt.want)
				}
			})
		}
	}

	// Expired last: moving the clock expires every token above.
	e.clock.Advance(time.Duration(e.cfg.Session.TokenExpirySec+1) * time.Second)
	for _, mode := range photonModes {
		_, _, got := e.photon(mode.build(ptr(valid.Token), secret))
		want := photonAnswer{ResultCode: 2, Message: "Session token expired; refresh the session and connect again."}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s expired token %+v; want %+v", mode.name, got, want)
		}
	}
}

// TestPhotonParameters covers how parameters are read: the query and a JSON body combined (the query wins
// a clash), other POST bodies not read, a body that is not an object, a parameter of the wrong type, a body
// over the limit, and parameter names from config.
func TestPhotonParameters(t *testing.T) {
	t.Parallel()
	cfg := photonConfig(t)
	cfg.Photon.TokenParam, cfg.Photon.SecretParam = "auth_token", "api_key"
	cfg.Socket.MaxRequestSizeBytes = 4096
	e := newEnv(t, cfg)
	s := e.authDevice("photon-device-params", "", "")
	uid := claims(t, s.Token)["uid"].(string)
	dashboard := url.Values{"api_key": {photonSecret}}
	both := url.Values{"api_key": {photonSecret}, "auth_token": {s.Token}}
	ok := photonAnswer{ResultCode: 1, UserID: uid}

	tests := []struct {
		name string
		call photonCall
		want photonAnswer
	}{
		{"token in the query, empty dictionary", photonCall{"POST", both, `{}`, "application/json"}, ok},
		{"query wins a clash", photonCall{"POST", both, `{"auth_token":"not-a-token"}`, "application/json"}, ok},
		{"secret in the body", photonCall{"POST", url.Values{}, `{"api_key":"` + photonSecret + `","auth_token":"` + s.Token + `"}`,
			"application/json; charset=utf-8"}, ok},
		{"form body not read", photonCall{"POST", dashboard, "auth_token=" + s.Token, "application/x-www-form-urlencoded"},
			photonAnswer{ResultCode: 3, Message: "Parameter auth_token is missing."}},
		{"string body, token in the query", photonCall{"POST", both, "anything", "text/plain"}, ok},
		{"body not an object", photonCall{"POST", both, `["x"]`, "application/json"},
			photonAnswer{ResultCode: 3, Message: "Request body must be a JSON object."}},
		{"body not JSON", photonCall{"POST", both, `{"auth_token":`, "application/json"},
			photonAnswer{ResultCode: 3, Message: "Request body must be a JSON object."}},
		{"token not a string", photonCall{"POST", dashboard, `{"auth_token":42}`, "application/json"},
			photonAnswer{ResultCode: 3, Message: "Parameter auth_token must be a string."}},
		{"token null", photonCall{"POST", dashboard, `{"auth_token":null}`, "application/json"},
			photonAnswer{ResultCode: 3, Message: "Parameter auth_token is missing."}},
		{"body too large", photonCall{"POST", both, `{"pad":"` + strings.Repeat("x", 5000) + `"}`, "application/json"},
			photonAnswer{ResultCode: 3, Message: "Request body too large."}},
		{"the default names are not read", photonCall{"GET", url.Values{"secret": {photonSecret}, "token": {s.Token}}, "", ""},
			photonAnswer{ResultCode: 3, Message: "Parameter api_key is missing."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, got := e.with(t).photon(tt.call)
			got.Nickname, got.AuthCookie = "", nil // checked in TestPhotonResultCodes
			if status != http.StatusOK {
				t.Errorf("status %d; want 200", status)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answer %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestPhotonConfig(t *testing.T) {
	t.Parallel()
	t.Run("session tokens refused", func(t *testing.T) {
		t.Parallel()
		cfg := photonConfig(t)
		cfg.Photon.AcceptSessionTokens = false
		e := newEnv(t, cfg)
		s := e.authDevice("photon-device-notokens", "", "")
		_, _, got := e.photon(photonCall{method: "GET", query: url.Values{"token": {s.Token}, "secret": {photonSecret}}})
		want := photonAnswer{ResultCode: 2, Message: "Session tokens are not accepted; connect with a join ticket."}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("answer %+v; want %+v", got, want)
		}
	})
	t.Run("no secret configured", func(t *testing.T) {
		t.Parallel()
		cfg := photonConfig(t)
		cfg.Photon.Secret = ""
		e := newEnv(t, cfg)
		s := e.authDevice("photon-device-nosecret", "", "")
		if _, _, got := e.photon(photonCall{method: "GET", query: url.Values{"token": {s.Token}}}); got.ResultCode != 1 {
			t.Errorf("answer %+v; want ResultCode 1", got)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testConfig(t))
		e.do("GET", "/photon/auth?token=x", "", "").wantError(t, http.StatusNotFound, 5, "")
	})
	t.Run("path taken", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/healthcheck", "/ws", "/", "/v2/storage/x", "/photon/../healthcheck", "/photon/"} {
			cfg := photonConfig(t)
			cfg.Photon.Path = p
			if _, err := server.New(context.Background(), cfg, server.Options{}); err == nil || !strings.Contains(err.Error(), "photon.path") {
				t.Errorf("photon.path %q: err = %v; want a photon.path error", p, err)
			}
		}
	})
}

// TestPhotonLogsNoSecrets checks that neither the token nor the secret reaches the log, at debug level,
// for accepted and refused calls.
func TestPhotonLogsNoSecrets(t *testing.T) {
	t.Parallel()
	var logs servertest.LogBuffer
	h := slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	cfg := photonConfig(t)
	e := newEnv(t, cfg, func(o *server.Options) { o.Logger = slog.New(h) })
	s := e.authDevice("photon-device-logs", "", "")
	tok := s.Token
	for _, q := range []url.Values{
		{"token": {tok}, "secret": {photonSecret}},
		{"token": {tok}, "secret": {photonSecret + "-wrong"}},
		{"token": {tok[:len(tok)-2]}, "secret": {photonSecret}},
	} {
		e.photon(photonCall{method: "GET", query: q})
	}
	e.photon(photonCall{method: "POST", query: url.Values{"secret": {photonSecret}}, body: `{"token":"` + tok + `x"}`, contentType: "application/json"})
	out := logs.String()
	if !strings.Contains(out, "wrong secret") {
		t.Errorf("the wrong secret was not logged:\n%s", out)
	}
	for _, secret := range []string{photonSecret, tok[strings.LastIndex(tok, ".")+1:], tok[:strings.Index(tok, ".")]} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, out)
		}
	}
}

// mintTicket mints a join ticket for the session of token, as POST /v2/session/ticket does.
func (e *env) mintTicket(token, audience string, ttl time.Duration) string {
	e.t.Helper()
	c, err := e.srv.Sessions.Authenticate(token)
	if err != nil {
		e.t.Fatal(err)
	}
	tk, err := e.srv.Tickets.Mint(context.Background(), c, audience, ttl)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk.Token
}

// TestPhotonTickets admits players by join ticket, in both modes: once per ticket, for photon.audience
// only, while it is live and its session has not ended, and also while session tokens are refused.
func TestPhotonTickets(t *testing.T) {
	t.Parallel()
	cfg := photonConfig(t)
	cfg.Tickets.Vars = config.StringList{"team", "region"}
	cfg.Photon.AcceptSessionTokens = false
	e := newEnv(t, cfg)
	s := e.authDevice("photon-device-ticket", "", `{"team":"red","region":"eu","hidden":"x"}`)
	c := claims(t, s.Token)
	admitted := photonAnswer{ResultCode: 1, UserID: c["uid"].(string), Nickname: c["usn"].(string),
		AuthCookie: map[string]string{"team": "red", "session_id": c["tid"].(string)}, Data: map[string]string{"region": "eu"}}
	used := photonAnswer{ResultCode: 2, Message: "Join ticket already used; ask for a new one."}
	secret := ptr(photonSecret)

	sig := func(tok string) string { // the ticket with its signature's first character changed
		i := strings.LastIndex(tok, ".") + 1
		if tok[i] == 'A' {
			return tok[:i] + "B" + tok[i+1:]
		}
		return tok[:i] + "A" + tok[i+1:]
	}
	for _, mode := range photonModes {
		t.Run(mode.name, func(t *testing.T) {
			e := e.with(t)
			ticket := e.mintTicket(s.Token, "photon", 0)
			check := func(what string, token string, want photonAnswer) {
				t.Helper()
				secret := secret
				if strings.HasSuffix(what, "without the secret") {
					secret = nil
				}
				status, _, got := e.photon(mode.build(&token, secret))
				if status != http.StatusOK || !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %d %+v; want 200 %+v", what, status, got, want)
				}
			}
			check("tampered ticket", sig(ticket), photonAnswer{ResultCode: 2, Message: "Invalid join ticket."})
			check("ticket", ticket, admitted)
			check("the same ticket again", ticket, used)
			check("ticket for another audience", e.mintTicket(s.Token, "match-7", 0),
				photonAnswer{ResultCode: 2, Message: `Join ticket is for another audience; ask for one with audience "photon".`})
			unburnt := e.mintTicket(s.Token, "photon", 0)
			check("ticket without the secret", unburnt, photonAnswer{ResultCode: 3, Message: "Parameter secret is missing."})
			check("that ticket with the secret", unburnt, admitted) // a refused call redeems nothing
		})
	}

	t.Run("expired", func(t *testing.T) {
		e := e.with(t)
		ticket := e.mintTicket(s.Token, "photon", 5*time.Second)
		e.clock.Advance(5 * time.Second)
		_, _, got := e.photon(photonModes[0].build(&ticket, secret))
		if want := (photonAnswer{ResultCode: 2, Message: "Join ticket expired; ask for a new one."}); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v; want %+v", got, want)
		}
	})

	// Tickets minted before their session ended are refused, named by why.
	loggedOut := e.authDevice("photon-device-ticket-logout", "", "")
	lt := e.mintTicket(loggedOut.Token, "photon", 0)
	e.do("POST", "/v2/session/logout", "bearer:"+loggedOut.Token, `{}`).wantOK(t)
	banned := e.authDevice("photon-device-ticket-ban", "", "")
	bt := e.mintTicket(banned.Token, "photon", 0)
	if _, err := e.srv.Sessions.Ban(context.Background(), claims(t, banned.Token)["uid"].(string), "test"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, ticket string
		want         photonAnswer
	}{
		{"logged out", lt, photonAnswer{ResultCode: 2, Message: "Session has ended; log in again."}},
		{"banned", bt, photonAnswer{ResultCode: 2, Message: "User account banned."}},
	} {
		if _, _, got := e.photon(photonModes[0].build(&tt.ticket, secret)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

// TestPhotonTicketsOff refuses join tickets when the provider has no ticket service (the server's admin
// commands build one without it), while session tokens still work.
func TestPhotonTicketsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, photonConfig(t))
	s := e.authDevice("photon-device-notickets", "", "")
	ticket := e.mintTicket(s.Token, "photon", 0)
	api := httpapi.New(httpapi.Deps{Accounts: e.srv.Accounts, Sessions: e.srv.Sessions, Photon: httpapi.Photon{
		Path: "/photon/auth", TokenParam: "token", Audience: "photon", AcceptSessionTokens: true}})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	for _, tt := range []struct {
		token string
		want  int
		msg   string
	}{
		{ticket, 2, "Join tickets are not enabled on this server."},
		{s.Token, 1, ""},
	} {
		res, err := http.Get(hs.URL + "/photon/auth?token=" + url.QueryEscape(tt.token))
		if err != nil {
			t.Fatal(err)
		}
		var got photonAnswer
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || got.ResultCode != tt.want || got.Message != tt.msg {
			t.Errorf("got %+v (%v); want ResultCode %d, Message %q", got, err, tt.want, tt.msg)
		}
	}
}
