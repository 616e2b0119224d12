// Package runtime is Latchkey's server framework for Go: the interfaces a studio's module uses to register
// RPCs and before/after hooks, and to call server functions such as generating or validating a token.
//
// Names and signatures mirror Nakama's runtime package (github.com/heroiclabs/nakama-common/runtime) where
// Nakama has the same thing, so that a Nakama Go module ports by changing its imports to this package and
// to github.com/latchkeyhq/latchkey/api. Modules are compiled into the server binary (no Go plugins): a
// studio writes its own main.go that passes its InitModule to latchkey.Run; see examples/.
//
// Every hook and RPC runs with a deadline (runtime.call_timeout_ms, default 5 s) and with panic recovery:
// a panic or an overrun answers the client with a generic error (500 Internal or 504 DeadlineExceeded)
// and the server goes on serving.
package runtime

import (
	"context"
	"database/sql"
	"errors"

	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey/api"
)

// Context keys, Nakama's names. Values are set by the server on the context of every hook and RPC and must
// be treated as read-only: they are copies, and changing them changes nothing for the server.
//
//	env               map[string]string   runtime.env entries
//	execution_mode    string              "before", "after" or "rpc"
//	node              string              the node's name
//	headers           map[string][]string request headers (HTTP calls)
//	query_params      map[string][]string query parameters, http_key excepted
//	user_id           string              the caller, when known
//	username          string              the caller's username, when known
//	vars              map[string]string   the caller's session variables, when known
//	user_session_exp  int64               the caller's session token expiry (Unix seconds), when known
//	session_id        string              over HTTP, the caller's session id (the token's tid); over the
//	                                      realtime socket, the socket's own session id, as in Nakama
//	lang              string              the realtime socket's `lang` (socket calls)
//	client_ip         string              the client's address
//	client_port       string              the client's port
const (
	RUNTIME_CTX_ENV              = "env"
	RUNTIME_CTX_MODE             = "execution_mode"
	RUNTIME_CTX_NODE             = "node"
	RUNTIME_CTX_HEADERS          = "headers"
	RUNTIME_CTX_QUERY_PARAMS     = "query_params"
	RUNTIME_CTX_USER_ID          = "user_id"
	RUNTIME_CTX_USERNAME         = "username"
	RUNTIME_CTX_VARS             = "vars"
	RUNTIME_CTX_USER_SESSION_EXP = "user_session_exp"
	RUNTIME_CTX_SESSION_ID       = "session_id"
	RUNTIME_CTX_LANG             = "lang"
	RUNTIME_CTX_CLIENT_IP        = "client_ip"
	RUNTIME_CTX_CLIENT_PORT      = "client_port"
)

// Error is an error with a gRPC status code that a hook or RPC returns to decide what the client sees:
// the code sets the HTTP status (3 → 400, 5 → 404, 7 → 403, 16 → 401, ...) and Message is sent as is.
type Error struct {
	Message string
	Code    int
}

// NewError returns an Error, as Nakama's runtime.NewError does.
func NewError(message string, code int) *Error {
	return &Error{Message: message, Code: code}
}

func (e *Error) Error() string { return e.Message }

// Logger is the module's logger; lines carry the hook or RPC they come from.
type Logger interface {
	Debug(format string, v ...interface{})
	Info(format string, v ...interface{})
	Warn(format string, v ...interface{})
	Error(format string, v ...interface{})
	WithField(key string, v interface{}) Logger
	WithFields(fields map[string]interface{}) Logger
	Fields() map[string]interface{}
}

// Reasons SessionValidate gives for a token it refuses; test them with errors.Is.
var (
	ErrTokenMalformed  = errors.New("token malformed")
	ErrTokenSignature  = errors.New("token signature invalid")
	ErrTokenExpired    = errors.New("token expired")
	ErrSessionRevoked  = errors.New("session revoked")
	ErrUserIDInvalid   = errors.New("user id must be a UUID")
	ErrUserNotFound    = errors.New("user not found")
	ErrSessionNotFound = errors.New("session not found")
	ErrUsernameTaken   = errors.New("username is already in use")
	// Reasons TicketMint and TicketRedeem give (Latchkey). A ticket TicketRedeem refuses for its form or
	// signature is ErrTokenMalformed or ErrTokenSignature, an expired one ErrTokenExpired, one whose
	// session has ended ErrSessionRevoked.
	ErrTicketsNotConfigured = errors.New("tickets are not configured")
	ErrTicketAudience       = errors.New("ticket audience must be 1-128 bytes without control characters")
	ErrTicketTTL            = errors.New("ticket ttl out of range")
	ErrTicketWrongAudience  = errors.New("ticket is for another audience")
	ErrTicketRedeemed       = errors.New("ticket already redeemed")
	// ErrStreamModeNotServed refuses a stream other than the notifications stream: Latchkey has no
	// matches, chat or parties, so it has no other streams.
	ErrStreamModeNotServed = errors.New("stream mode not served by Latchkey: only StreamModeNotifications")
)

// PresenceReason says why a presence changed or a socket was closed, as Nakama's runtime.PresenceReason.
type PresenceReason uint8

// Presence reasons, Nakama's values.
const (
	PresenceReasonUnknown PresenceReason = iota
	PresenceReasonJoin
	PresenceReasonUpdate
	PresenceReasonLeave
	PresenceReasonDisconnect
)

func (r PresenceReason) String() string {
	switch r {
	case PresenceReasonJoin:
		return "join"
	case PresenceReasonUpdate:
		return "update"
	case PresenceReasonLeave:
		return "leave"
	case PresenceReasonDisconnect:
		return "disconnect"
	}
	return "unknown"
}

// StreamModeNotifications is the mode of a user's notifications stream, the one stream Latchkey has: every
// realtime socket of a user is a presence on it, with the user id as the stream's subject.
const StreamModeNotifications uint8 = 0

// PresenceMeta is what a presence says about itself, as in Nakama.
type PresenceMeta interface {
	GetHidden() bool
	GetPersistence() bool
	GetUsername() string
	GetStatus() string
	GetReason() PresenceReason
}

// Presence is one realtime socket of a user on a stream, as in Nakama.
type Presence interface {
	PresenceMeta
	GetUserId() string
	GetSessionId() string
	GetNodeId() string
}

// SocketInfo is one open realtime socket. (Latchkey)
type SocketInfo struct {
	SessionID  string // the socket's session id, as SessionDisconnect takes it
	UserID     string
	TokenID    string // the login session (token tid) the socket was opened with
	Node       string // the node holding it
	CreateTime int64  // Unix seconds
}

// Session is what a valid session token says about its holder.
type Session struct {
	SessionID string            // the token's tid; every token of one login shares it
	UserID    string            // uid
	Username  string            // usn, as when the token was issued
	Vars      map[string]string // vrs
	ExpiresAt int64             // exp, Unix seconds
	IssuedAt  int64             // iat, Unix seconds
}

// Ticket is a join ticket (Latchkey): a short-lived, one-time signed token a player hands to a game
// server, which checks it with the keys at /.well-known/jwks.json or redeems it.
type Ticket struct {
	Token     string
	ID        string // the ticket's unique id (jti)
	ExpiresAt int64  // Unix seconds
}

// TicketClaims is what a redeemed ticket says about its holder.
type TicketClaims struct {
	UserID    string
	Username  string
	SessionID string // the session the ticket was minted for (its tokens' tid)
	Audience  string
	ID        string // jti
	ExpiresAt int64  // Unix seconds
	IssuedAt  int64  // Unix seconds
	Vars      map[string]string
}

// SessionInfo is one live session of a user.
type SessionInfo struct {
	ID          string
	CreateTime  int64 // Unix seconds
	RefreshTime int64
	ExpireTime  int64
	UserAgent   string
	ClientIP    string
}

// NakamaModule is the server functions a module can call.
//
// The Authenticate functions find the account an identity belongs to, creating it when create is true, and
// return its user id, its username and whether it was created; they issue no session (see
// AuthenticateTokenGenerate). The platform functions (Apple, Google, Facebook, Facebook Instant Game, Game
// Center, Steam) verify the credential with the platform first, as the REST API does, and a refused
// credential is an error that, passed on unchanged, answers the client as the REST API would (401 "Could
// not authenticate Apple profile.", for example). Facebook's importFriends and the username of LinkFacebook
// and LinkSteam are accepted and ignored: Latchkey has no friends.
type NakamaModule interface {
	AuthenticateApple(ctx context.Context, token, username string, create bool) (string, string, bool, error)
	AuthenticateCustom(ctx context.Context, id, username string, create bool) (string, string, bool, error)
	AuthenticateDevice(ctx context.Context, id, username string, create bool) (string, string, bool, error)
	AuthenticateEmail(ctx context.Context, email, password, username string, create bool) (string, string, bool, error)
	AuthenticateFacebook(ctx context.Context, token string, importFriends bool, username string, create bool) (string, string, bool, error)
	AuthenticateFacebookInstantGame(ctx context.Context, signedPlayerInfo string, username string, create bool) (string, string, bool, error)
	AuthenticateGameCenter(ctx context.Context, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl, username string, create bool) (string, string, bool, error)
	AuthenticateGoogle(ctx context.Context, token, username string, create bool) (string, string, bool, error)
	AuthenticateSteam(ctx context.Context, token, username string, create bool) (string, string, bool, error)

	// AuthenticateTokenGenerate issues a session token for an existing account, backed by a real session
	// that validates everywhere and can be logged out. An empty username means the account's current
	// username; exp 0 means now + session.token_expiry_sec, otherwise the Unix second it expires. It returns
	// the token and its expiry. A malformed user id is ErrUserIDInvalid, an unknown one ErrUserNotFound.
	AuthenticateTokenGenerate(userID, username string, exp int64, vars map[string]string) (string, int64, error)
	// SessionValidate checks a session token as the server does on every request and returns what it says,
	// or an error that is (errors.Is) ErrTokenMalformed, ErrTokenSignature, ErrTokenExpired or
	// ErrSessionRevoked. (Latchkey: Nakama has no supported way to do this.)
	SessionValidate(ctx context.Context, token string) (*Session, error)
	// TicketMint signs a join ticket for the live session sessionID of userID (in an RPC, the caller's is
	// ctx's RUNTIME_CTX_SESSION_ID over HTTP), bound to audience, valid ttlSec seconds (0: tickets.ttl_sec;
	// at most tickets.max_ttl_sec). vars nil carries the session's variables; otherwise vars instead.
	// Either way, only the names listed in tickets.vars are kept. A session that is not a live one of the
	// user is ErrSessionNotFound. (Latchkey)
	TicketMint(ctx context.Context, userID, sessionID, audience string, ttlSec int, vars map[string]string) (*Ticket, error)
	// TicketRedeem verifies a ticket for audience and redeems it: a ticket is redeemed once, across every
	// node, and again is ErrTicketRedeemed. A ticket whose session has ended is ErrSessionRevoked.
	// (Latchkey)
	TicketRedeem(ctx context.Context, token, audience string) (*TicketClaims, error)
	// SessionLogout ends the sessions of the given tokens of userID, as POST /v2/session/logout does; with
	// both empty, every session of the user.
	SessionLogout(userID, token, refreshToken string) error
	// SessionsList returns the user's live sessions, newest first. (Latchkey)
	SessionsList(ctx context.Context, userID string) ([]*SessionInfo, error)
	// SessionRevoke ends one session of the user; ErrSessionNotFound if it is not a live session of theirs.
	// (Latchkey)
	SessionRevoke(ctx context.Context, userID, sessionID string) error
	// AccountGetId returns the account, including its disable time.
	AccountGetId(ctx context.Context, userID string) (*api.Account, error)
	// AccountUpdateId changes the account; empty strings and a nil metadata leave a field unchanged, as in
	// Nakama.
	AccountUpdateId(ctx context.Context, userID, username string, metadata map[string]interface{}, displayName, timezone, location, langTag, avatarUrl string) error
	// AccountDeleteId ends every session and socket of the account on every node, then deletes it and its
	// identities: the same device or platform id can create a fresh account afterwards. recorded is accepted
	// and ignored; the deletion is always recorded in the event log. An unknown id is ErrUserNotFound.
	AccountDeleteId(ctx context.Context, userID string, recorded bool) error

	// UsersGetId returns the public profiles of the accounts with these user ids or Facebook ids; unknown
	// ones are skipped. A malformed user id is ErrUserIDInvalid.
	UsersGetId(ctx context.Context, userIDs []string, facebookIDs []string) ([]*api.User, error)
	// UsersGetUsername returns the public profiles of the accounts with these usernames; unknown ones are
	// skipped.
	UsersGetUsername(ctx context.Context, usernames []string) ([]*api.User, error)
	// UsersBanId bans the accounts and ends all their sessions on every node.
	UsersBanId(ctx context.Context, userIDs []string) error
	// UsersUnbanId lets the accounts authenticate again.
	UsersUnbanId(ctx context.Context, userIDs []string) error

	// The Link functions add an identity to the account. An identity the account already has is not an
	// error; one that belongs to another account is refused ("Device ID already in use.", 409). Linking an
	// email or custom id replaces the account's previous one, as in Nakama. An unknown user is
	// ErrUserNotFound.
	LinkApple(ctx context.Context, userID, token string) error
	LinkCustom(ctx context.Context, userID, customID string) error
	LinkDevice(ctx context.Context, userID, deviceID string) error
	LinkEmail(ctx context.Context, userID, email, password string) error
	LinkFacebook(ctx context.Context, userID, username, token string, importFriends bool) error
	LinkFacebookInstantGame(ctx context.Context, userID, signedPlayerInfo string) error
	LinkGameCenter(ctx context.Context, userID, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl string) error
	LinkGoogle(ctx context.Context, userID, token string) error
	LinkSteam(ctx context.Context, userID, username, token string, importFriends bool) error

	// The Unlink functions remove an identity from the account. Removing the account's last identity, or one
	// it does not have, is refused as in Nakama: 403 "Cannot unlink last account identifier. Check profile
	// exists and is not last link."
	UnlinkApple(ctx context.Context, userID, token string) error
	UnlinkCustom(ctx context.Context, userID, customID string) error
	UnlinkDevice(ctx context.Context, userID, deviceID string) error
	UnlinkEmail(ctx context.Context, userID, email string) error
	UnlinkFacebook(ctx context.Context, userID, token string) error
	UnlinkFacebookInstantGame(ctx context.Context, userID, signedPlayerInfo string) error
	UnlinkGameCenter(ctx context.Context, userID, playerID, bundleID string, timestamp int64, salt, signature, publicKeyUrl string) error
	UnlinkGoogle(ctx context.Context, userID, token string) error
	UnlinkSteam(ctx context.Context, userID, token string) error

	// SessionDisconnect closes the realtime socket with this socket session id, on whichever node holds it,
	// with a normal close frame. The login session and its tokens are untouched. Closing a socket that is
	// not open is not an error.
	SessionDisconnect(ctx context.Context, sessionID string, reason ...PresenceReason) error
	// SocketsList returns the user's open realtime sockets on every node, oldest first. (Latchkey)
	SocketsList(ctx context.Context, userID string) ([]*SocketInfo, error)
	// StreamUserList lists the presences on a stream, Nakama's way of finding a user's sockets:
	// StreamUserList(StreamModeNotifications, userID, "", "", true, true) returns one presence per open
	// socket of the user, on every node. Any other mode is ErrStreamModeNotServed.
	StreamUserList(mode uint8, subject, subcontext, label string, includeHidden, includeNotHidden bool) ([]Presence, error)
}

// RpcFunc is an RPC: it gets the payload and returns the response payload.
type RpcFunc = func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, payload string) (string, error)

// Initializer registers a module's RPCs and hooks. Registering twice for the same id or hook replaces the
// earlier function. A before-hook returns the request to go on with (changed or not), nil to refuse the
// call (404), or an error; an after-hook sees the result and its error is logged, not sent.
type Initializer interface {
	RegisterRpc(id string, fn RpcFunc) error

	RegisterBeforeAuthenticateDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateDeviceRequest) (*api.AuthenticateDeviceRequest, error)) error
	RegisterAfterAuthenticateDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateDeviceRequest) error) error
	RegisterBeforeAuthenticateEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateEmailRequest) (*api.AuthenticateEmailRequest, error)) error
	RegisterAfterAuthenticateEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateEmailRequest) error) error
	RegisterBeforeAuthenticateCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateCustomRequest) (*api.AuthenticateCustomRequest, error)) error
	RegisterAfterAuthenticateCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateCustomRequest) error) error

	RegisterBeforeAuthenticateApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateAppleRequest) (*api.AuthenticateAppleRequest, error)) error
	RegisterAfterAuthenticateApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateAppleRequest) error) error
	RegisterBeforeAuthenticateFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateFacebookRequest) (*api.AuthenticateFacebookRequest, error)) error
	RegisterAfterAuthenticateFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateFacebookRequest) error) error
	RegisterBeforeAuthenticateFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateFacebookInstantGameRequest) (*api.AuthenticateFacebookInstantGameRequest, error)) error
	RegisterAfterAuthenticateFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateFacebookInstantGameRequest) error) error
	RegisterBeforeAuthenticateGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateGameCenterRequest) (*api.AuthenticateGameCenterRequest, error)) error
	RegisterAfterAuthenticateGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateGameCenterRequest) error) error
	RegisterBeforeAuthenticateGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateGoogleRequest) (*api.AuthenticateGoogleRequest, error)) error
	RegisterAfterAuthenticateGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateGoogleRequest) error) error
	RegisterBeforeAuthenticateSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AuthenticateSteamRequest) (*api.AuthenticateSteamRequest, error)) error
	RegisterAfterAuthenticateSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.AuthenticateSteamRequest) error) error

	RegisterBeforeSessionRefresh(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.SessionRefreshRequest) (*api.SessionRefreshRequest, error)) error
	RegisterAfterSessionRefresh(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Session, in *api.SessionRefreshRequest) error) error
	RegisterBeforeSessionLogout(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.SessionLogoutRequest) (*api.SessionLogoutRequest, error)) error
	RegisterAfterSessionLogout(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.SessionLogoutRequest) error) error

	RegisterBeforeGetAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule) error) error
	RegisterAfterGetAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Account) error) error
	RegisterBeforeUpdateAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.UpdateAccountRequest) (*api.UpdateAccountRequest, error)) error
	RegisterAfterUpdateAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.UpdateAccountRequest) error) error
	// RegisterBeforeDeleteAccount runs fn before DELETE /v2/account; an error refuses the call.
	RegisterBeforeDeleteAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule) error) error
	// RegisterAfterDeleteAccount runs fn once the account is deleted; the context still names the caller.
	RegisterAfterDeleteAccount(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule) error) error
	RegisterBeforeGetUsers(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.GetUsersRequest) (*api.GetUsersRequest, error)) error
	RegisterAfterGetUsers(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out *api.Users, in *api.GetUsersRequest) error) error

	// Link and unlink hooks see the credential sent (for link/facebook and link/steam, with Nakama's
	// wrapper carrying sync); after-hooks see only the request, as in Nakama.
	RegisterBeforeLinkApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountApple) (*api.AccountApple, error)) error
	RegisterAfterLinkApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountApple) error) error
	RegisterBeforeLinkCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountCustom) (*api.AccountCustom, error)) error
	RegisterAfterLinkCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountCustom) error) error
	RegisterBeforeLinkDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountDevice) (*api.AccountDevice, error)) error
	RegisterAfterLinkDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountDevice) error) error
	RegisterBeforeLinkEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountEmail) (*api.AccountEmail, error)) error
	RegisterAfterLinkEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountEmail) error) error
	RegisterBeforeLinkFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.LinkFacebookRequest) (*api.LinkFacebookRequest, error)) error
	RegisterAfterLinkFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.LinkFacebookRequest) error) error
	RegisterBeforeLinkFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebookInstantGame) (*api.AccountFacebookInstantGame, error)) error
	RegisterAfterLinkFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebookInstantGame) error) error
	RegisterBeforeLinkGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGameCenter) (*api.AccountGameCenter, error)) error
	RegisterAfterLinkGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGameCenter) error) error
	RegisterBeforeLinkGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGoogle) (*api.AccountGoogle, error)) error
	RegisterAfterLinkGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGoogle) error) error
	RegisterBeforeLinkSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.LinkSteamRequest) (*api.LinkSteamRequest, error)) error
	RegisterAfterLinkSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.LinkSteamRequest) error) error
	RegisterBeforeUnlinkApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountApple) (*api.AccountApple, error)) error
	RegisterAfterUnlinkApple(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountApple) error) error
	RegisterBeforeUnlinkCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountCustom) (*api.AccountCustom, error)) error
	RegisterAfterUnlinkCustom(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountCustom) error) error
	RegisterBeforeUnlinkDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountDevice) (*api.AccountDevice, error)) error
	RegisterAfterUnlinkDevice(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountDevice) error) error
	RegisterBeforeUnlinkEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountEmail) (*api.AccountEmail, error)) error
	RegisterAfterUnlinkEmail(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountEmail) error) error
	RegisterBeforeUnlinkFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebook) (*api.AccountFacebook, error)) error
	RegisterAfterUnlinkFacebook(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebook) error) error
	RegisterBeforeUnlinkFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebookInstantGame) (*api.AccountFacebookInstantGame, error)) error
	RegisterAfterUnlinkFacebookInstantGame(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountFacebookInstantGame) error) error
	RegisterBeforeUnlinkGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGameCenter) (*api.AccountGameCenter, error)) error
	RegisterAfterUnlinkGameCenter(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGameCenter) error) error
	RegisterBeforeUnlinkGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGoogle) (*api.AccountGoogle, error)) error
	RegisterAfterUnlinkGoogle(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountGoogle) error) error
	RegisterBeforeUnlinkSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountSteam) (*api.AccountSteam, error)) error
	RegisterAfterUnlinkSteam(fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, in *api.AccountSteam) error) error

	// RegisterBeforeRt runs fn before each realtime message of the kind id names ("rpc", "ping"; case does
	// not matter), as in Nakama: it returns the envelope to go on with, nil to refuse the message (the client
	// gets an error envelope), or an error (sent to the client as an error envelope).
	RegisterBeforeRt(id string, fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, envelope *rtapi.Envelope) (*rtapi.Envelope, error)) error
	// RegisterAfterRt runs fn after the server answered a realtime message of the kind id names; out is the
	// answer sent (nil when none), in the message received. Its error is logged.
	RegisterAfterRt(id string, fn func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, out, in *rtapi.Envelope) error) error
	// RegisterEventSessionStart runs fn when a realtime socket opens; the context carries the socket's user,
	// session id and lang. Events run in the background, in order, and never delay the socket.
	RegisterEventSessionStart(fn func(ctx context.Context, logger Logger, evt *api.Event)) error
	// RegisterEventSessionEnd runs fn when a realtime socket closes; evt.Properties["reason"] says why.
	RegisterEventSessionEnd(fn func(ctx context.Context, logger Logger, evt *api.Event)) error
}

// InitModule is a module's entry point, Nakama's InitModule signature. It runs once at start, before the
// server listens; an error stops the start. db is the server's own database (SQLite or PostgreSQL): read
// it if you must, but keep your data in tables of your own.
type InitModule = func(ctx context.Context, logger Logger, db *sql.DB, nk NakamaModule, initializer Initializer) error
