package social

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// facebookIssuers are the iss values of Limited Login tokens: Facebook's documentation names
// https://www.facebook.com and, since Limited Login moved to limited.facebook.com, that host; Nakama also
// accepts https://facebook.com.
var facebookIssuers = []string{"https://www.facebook.com", "https://limited.facebook.com", "https://facebook.com"}

// facebookTransientCodes are Graph API error codes for throttling and temporary failures, which Graph
// answers with a 4xx status like a bad token.
var facebookTransientCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 613: true}

// Facebook verifies a Facebook credential. A JWT is a Limited Login token when
// social.facebook_limited_login.app_id is set; anything else is a classic access token, which the Graph API
// answers for with the user's profile.
func (v *Verifier) Facebook(ctx context.Context, token string) (Identity, error) {
	if v.cfg.FacebookLimitedLogin.AppID != "" && strings.Count(token, ".") == 2 {
		return v.facebookLimitedLogin(ctx, token)
	}
	return v.facebookGraph(ctx, token)
}

func (v *Verifier) facebookLimitedLogin(ctx context.Context, token string) (Identity, error) {
	claims, err := v.verifyIDToken(ctx, token, idRules{
		provider:  "facebook limited login",
		keysURL:   v.cfg.FacebookLimitedLogin.KeysURL,
		issuers:   facebookIssuers,
		audiences: []string{v.cfg.FacebookLimitedLogin.AppID},
	})
	if err != nil {
		return Identity{}, err
	}
	return claims.identity(), nil
}

func (v *Verifier) facebookGraph(ctx context.Context, token string) (Identity, error) {
	const provider = "facebook"
	if token == "" || len(token) > maxTokenLen {
		return Identity{}, invalid(provider, "access token is empty or too long")
	}
	q := url.Values{"fields": {"id,name,email,picture"}, "access_token": {token}}
	resp, err := v.get(ctx, provider, v.cfg.Facebook.GraphURL+"/me?"+q.Encode())
	if err != nil {
		return Identity{}, err
	}
	switch {
	case resp.status == http.StatusOK:
	case resp.status >= 500 || resp.status == http.StatusTooManyRequests:
		return Identity{}, v.outage(provider, "Graph API answered HTTP %d", resp.status)
	default:
		return Identity{}, v.graphError(resp, token)
	}
	var me struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Email   string `json:"email"`
		Picture struct {
			Data struct {
				URL string `json:"url"`
			} `json:"data"`
		} `json:"picture"`
	}
	if err := json.Unmarshal(resp.body, &me); err != nil || me.ID == "" {
		return Identity{}, v.outage(provider, "Graph API answer has no user id")
	}
	return Identity{ID: me.ID, Name: me.Name, Email: me.Email, AvatarURL: me.Picture.Data.URL}, nil
}

// graphError reads a Graph API error answer: a refused token is ErrInvalid, throttling or a transient
// failure is ErrUnavailable.
func (v *Verifier) graphError(resp response, token string) error {
	const provider = "facebook"
	var body struct {
		Error *struct {
			Message     string `json:"message"`
			Code        int    `json:"code"`
			IsTransient bool   `json:"is_transient"`
		} `json:"error"`
	}
	if json.Unmarshal(resp.body, &body) != nil || body.Error == nil {
		return v.outage(provider, "Graph API answered HTTP %d without an error object", resp.status)
	}
	e := body.Error
	if e.IsTransient || facebookTransientCodes[e.Code] {
		return v.outage(provider, "Graph API error %d: %s", e.Code, scrub(e.Message, token))
	}
	return invalid(provider, "Graph API refused the access token (error %d: %s)", e.Code, scrub(e.Message, token))
}
