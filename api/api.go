// Package api provides Latchkey's public wire types: the JSON shapes of Nakama's REST API that Latchkey
// serves, its error body, and the table from gRPC-style codes to HTTP statuses.
//
// Field names follow Go style (UserID); JSON names follow Nakama's proto field names (user_id). Zero values
// are omitted from responses, as protojson does, so a `created` of false never appears on the wire.
package api

import "time"

// AccountDevice is the body of POST /v2/account/authenticate/device.
type AccountDevice struct {
	ID   string            `json:"id,omitempty"`
	Vars map[string]string `json:"vars,omitempty"`
}

// AccountEmail is the body of POST /v2/account/authenticate/email.
type AccountEmail struct {
	Email    string            `json:"email,omitempty"`
	Password string            `json:"password,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
}

// AccountCustom is the body of POST /v2/account/authenticate/custom.
type AccountCustom struct {
	ID   string            `json:"id,omitempty"`
	Vars map[string]string `json:"vars,omitempty"`
}

// AuthenticateDeviceRequest is a device authentication: the body plus the `create` and `username` query
// parameters.
type AuthenticateDeviceRequest struct {
	Account  *AccountDevice `json:"account,omitempty"`
	Create   *bool          `json:"create,omitempty"` // nil means true
	Username string         `json:"username,omitempty"`
}

// AuthenticateEmailRequest is an email (or username and password) authentication.
type AuthenticateEmailRequest struct {
	Account  *AccountEmail `json:"account,omitempty"`
	Create   *bool         `json:"create,omitempty"`
	Username string        `json:"username,omitempty"`
}

// AuthenticateCustomRequest is a custom-id authentication.
type AuthenticateCustomRequest struct {
	Account  *AccountCustom `json:"account,omitempty"`
	Create   *bool          `json:"create,omitempty"`
	Username string         `json:"username,omitempty"`
}

// Session is the response of every authentication and of a refresh.
type Session struct {
	Created      bool   `json:"created,omitempty"`
	Token        string `json:"token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// SessionRefreshRequest is the body of POST /v2/account/session/refresh.
type SessionRefreshRequest struct {
	Token string            `json:"token,omitempty"` // the refresh token
	Vars  map[string]string `json:"vars,omitempty"`
}

// SessionLogoutRequest is the body of POST /v2/session/logout. Without a scope, Nakama's rules apply: the
// named tokens' sessions end, and with neither token every session of the caller ends. Scope (Latchkey)
// is "current" (the calling session), "others" (every other session of the caller) or "all".
type SessionLogoutRequest struct {
	Token        string `json:"token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// SessionInfo describes one live session of the caller (Latchkey: GET /v2/account/sessions). Times are
// RFC 3339 in UTC, as Nakama writes its timestamps.
type SessionInfo struct {
	ID          string `json:"id"`
	CreateTime  string `json:"create_time"`
	RefreshTime string `json:"refresh_time"`
	ExpireTime  string `json:"expire_time"`
	UserAgent   string `json:"user_agent"`
	ClientIP    string `json:"client_ip"`
	Current     bool   `json:"current"`
}

// SessionListRequest is the query of GET /v2/account/sessions (Latchkey): at most Limit sessions (1 to
// 100, default 100) from the position Cursor names, which is empty for the first page.
type SessionListRequest struct {
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// SessionList is the answer of GET /v2/account/sessions, newest session first. Cursor, opaque, asks for
// the next page; it is empty on the last page.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
	Cursor   string        `json:"cursor,omitempty"`
}

// SessionDeleteRequest names the session DELETE /v2/account/sessions/{id} ends.
type SessionDeleteRequest struct {
	ID string `json:"id"`
}

// User is a user's public profile as Nakama returns it.
type User struct {
	ID                    string `json:"id,omitempty"`
	Username              string `json:"username,omitempty"`
	DisplayName           string `json:"display_name,omitempty"`
	AvatarURL             string `json:"avatar_url,omitempty"`
	LangTag               string `json:"lang_tag,omitempty"`
	Location              string `json:"location,omitempty"`
	Timezone              string `json:"timezone,omitempty"`
	Metadata              string `json:"metadata,omitempty"` // JSON object text
	FacebookID            string `json:"facebook_id,omitempty"`
	GoogleID              string `json:"google_id,omitempty"`
	GamecenterID          string `json:"gamecenter_id,omitempty"`
	SteamID               string `json:"steam_id,omitempty"`
	Online                bool   `json:"online,omitempty"`
	EdgeCount             int32  `json:"edge_count,omitempty"`
	CreateTime            string `json:"create_time,omitempty"` // RFC 3339, whole seconds, UTC
	UpdateTime            string `json:"update_time,omitempty"`
	FacebookInstantGameID string `json:"facebook_instant_game_id,omitempty"`
	AppleID               string `json:"apple_id,omitempty"`
}

// AccountDeviceID is one device linked to an account.
type AccountDeviceID struct {
	ID string `json:"id,omitempty"`
}

// Account is the response of GET /v2/account.
type Account struct {
	User        *User             `json:"user,omitempty"`
	Wallet      string            `json:"wallet,omitempty"` // JSON object text
	Email       string            `json:"email,omitempty"`
	Devices     []AccountDeviceID `json:"devices,omitempty"`
	CustomID    string            `json:"custom_id,omitempty"`
	VerifyTime  string            `json:"verify_time,omitempty"`
	DisableTime string            `json:"disable_time,omitempty"` // never sent to the account's owner
}

// UpdateAccountRequest is the body of PUT /v2/account. A nil field is left unchanged; "" clears it (a
// username cannot be cleared).
type UpdateAccountRequest struct {
	Username    *string `json:"username,omitempty"`
	DisplayName *string `json:"display_name,omitempty"`
	AvatarURL   *string `json:"avatar_url,omitempty"`
	LangTag     *string `json:"lang_tag,omitempty"`
	Location    *string `json:"location,omitempty"`
	Timezone    *string `json:"timezone,omitempty"`
}

// Empty is the `{}` response of calls that return nothing.
type Empty struct{}

// Event is something that happened that server code can react to, such as a realtime socket session
// starting or ending (Nakama's api.Event; the timestamp is a time.Time here).
type Event struct {
	Name       string            `json:"name,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	Timestamp  time.Time         `json:"timestamp,omitempty"`
	External   bool              `json:"external,omitempty"`
}
