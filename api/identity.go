package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

var int64Type = reflect.TypeFor[int64]()

// Int64 is a 64-bit integer field as protojson writes it (a JSON string) that also accepts a JSON number,
// as Nakama's gateway does.
type Int64 int64

// MarshalJSON writes the value as a JSON string.
func (v Int64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(v), 10) + `"`), nil
}

// UnmarshalJSON reads a JSON number or a string holding one.
func (v *Int64) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: int64Type}
	}
	*v = Int64(n)
	return nil
}

// AccountApple is a Sign in with Apple identity token (authenticate, link, unlink).
type AccountApple struct {
	Token string            `json:"token,omitempty"`
	Vars  map[string]string `json:"vars,omitempty"`
}

// AccountGoogle is a Google ID token.
type AccountGoogle struct {
	Token string            `json:"token,omitempty"`
	Vars  map[string]string `json:"vars,omitempty"`
}

// AccountFacebook is a Facebook access token or Limited Login token.
type AccountFacebook struct {
	Token string            `json:"token,omitempty"`
	Vars  map[string]string `json:"vars,omitempty"`
}

// AccountFacebookInstantGame is a Facebook Instant Games signed player info.
type AccountFacebookInstantGame struct {
	SignedPlayerInfo string            `json:"signed_player_info,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
}

// AccountSteam is a Steam session ticket.
type AccountSteam struct {
	Token string            `json:"token,omitempty"`
	Vars  map[string]string `json:"vars,omitempty"`
}

// AccountGameCenter is a Game Center identity verification signature.
type AccountGameCenter struct {
	PlayerID         string            `json:"player_id,omitempty"`
	BundleID         string            `json:"bundle_id,omitempty"`
	TimestampSeconds Int64             `json:"timestamp_seconds,omitempty"`
	Salt             string            `json:"salt,omitempty"`
	Signature        string            `json:"signature,omitempty"`
	PublicKeyURL     string            `json:"public_key_url,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
}

// AuthenticateAppleRequest is POST /v2/account/authenticate/apple: the body plus the query parameters.
type AuthenticateAppleRequest struct {
	Account  *AccountApple `json:"account,omitempty"`
	Create   *bool         `json:"create,omitempty"`
	Username string        `json:"username,omitempty"`
}

// AuthenticateGoogleRequest is POST /v2/account/authenticate/google.
type AuthenticateGoogleRequest struct {
	Account  *AccountGoogle `json:"account,omitempty"`
	Create   *bool          `json:"create,omitempty"`
	Username string         `json:"username,omitempty"`
}

// AuthenticateFacebookRequest is POST /v2/account/authenticate/facebook. Sync (importing friends) is
// accepted and ignored: Latchkey has no friends.
type AuthenticateFacebookRequest struct {
	Account  *AccountFacebook `json:"account,omitempty"`
	Create   *bool            `json:"create,omitempty"`
	Username string           `json:"username,omitempty"`
	Sync     *bool            `json:"sync,omitempty"`
}

// AuthenticateFacebookInstantGameRequest is POST /v2/account/authenticate/facebookinstantgame.
type AuthenticateFacebookInstantGameRequest struct {
	Account  *AccountFacebookInstantGame `json:"account,omitempty"`
	Create   *bool                       `json:"create,omitempty"`
	Username string                      `json:"username,omitempty"`
}

// AuthenticateSteamRequest is POST /v2/account/authenticate/steam. Sync is accepted and ignored.
type AuthenticateSteamRequest struct {
	Account  *AccountSteam `json:"account,omitempty"`
	Create   *bool         `json:"create,omitempty"`
	Username string        `json:"username,omitempty"`
	Sync     *bool         `json:"sync,omitempty"`
}

// AuthenticateGameCenterRequest is POST /v2/account/authenticate/gamecenter.
type AuthenticateGameCenterRequest struct {
	Account  *AccountGameCenter `json:"account,omitempty"`
	Create   *bool              `json:"create,omitempty"`
	Username string             `json:"username,omitempty"`
}

// LinkFacebookRequest is POST /v2/account/link/facebook: the account in the body, sync in the query.
type LinkFacebookRequest struct {
	Account *AccountFacebook `json:"account,omitempty"`
	Sync    *bool            `json:"sync,omitempty"`
}

// LinkSteamRequest is the body of POST /v2/account/link/steam.
type LinkSteamRequest struct {
	Account *AccountSteam `json:"account,omitempty"`
	Sync    *bool         `json:"sync,omitempty"`
}

// GetUsersRequest is GET /v2/user's query: ids, usernames and facebook_ids, each repeatable.
type GetUsersRequest struct {
	IDs         []string `json:"ids,omitempty"`
	Usernames   []string `json:"usernames,omitempty"`
	FacebookIDs []string `json:"facebook_ids,omitempty"`
}

// Users is the answer of GET /v2/user.
type Users struct {
	Users []*User `json:"users"`
}
