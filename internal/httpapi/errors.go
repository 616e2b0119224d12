package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tickets"
	"github.com/latchkeyhq/latchkey/runtime"
)

// Errors raised by this package itself.
var (
	errServerKeyRequired = errors.New("server key required")
	errServerKeyInvalid  = errors.New("server key invalid")
	errAuthTokenRequired = errors.New("auth token required")
	errBodyTooLarge      = errors.New("request body too large")
	errVarsTooLarge      = errors.New("session vars too large")
	errNotFound          = errors.New("route not found")
	errMethodNotAllowed  = errors.New("method not allowed")
	errHookDisabled      = errors.New("disabled by a before-hook")
	errInternalPanic     = errors.New("handler panicked")
	errRateLimited       = errors.New("too many requests from this client address")
)

// wireErrors is the one place where domain errors become Nakama's wire errors. Codes and messages are
// the ones Nakama sends, which clients may match on; entries marked (Latchkey) have no Nakama equivalent
// or fix a Nakama answer, as noted in docs/api.md.
var wireErrors = []struct {
	err  error
	code api.Code
	msg  string
}{
	{errServerKeyRequired, api.CodeUnauthenticated, "Server key required"},
	{errServerKeyInvalid, api.CodeUnauthenticated, "Server key invalid"},
	{errAuthTokenRequired, api.CodeUnauthenticated, "Auth token required"},
	{sessions.ErrTokenInvalid, api.CodeUnauthenticated, "Auth token invalid"},
	{errBodyTooLarge, api.CodeInvalidArgument, "Request body too large."},
	{errVarsTooLarge, api.CodeInvalidArgument, fmt.Sprintf("Session vars too large, must be at most %d bytes.", maxVarsBytes)}, // (Latchkey)
	{errNotFound, api.CodeNotFound, "Not Found"},
	{errMethodNotAllowed, api.CodeUnimplemented, "Method Not Allowed"},
	{errHookDisabled, api.CodeNotFound, "Requested resource was not found."},
	{errInternalPanic, api.CodeInternal, "Internal server error."},
	{errRPCCredentials, api.CodeUnauthenticated, "Auth token or HTTP key required"},
	{errHTTPKeyInvalid, api.CodeUnauthenticated, "HTTP key invalid"},
	{errRPCIDRequired, api.CodeInvalidArgument, "RPC ID must be set"},
	{errRPCNotFound, api.CodeNotFound, "RPC function not found"},

	{accounts.ErrDeviceIDRequired, api.CodeInvalidArgument, "Device ID is required."},
	{accounts.ErrDeviceIDChars, api.CodeInvalidArgument, "Device ID invalid, no spaces or control characters allowed."},
	{accounts.ErrDeviceIDLength, api.CodeInvalidArgument, "Device ID invalid, must be 10-128 bytes."},
	{accounts.ErrCustomIDRequired, api.CodeInvalidArgument, "Custom ID is required."},
	{accounts.ErrCustomIDChars, api.CodeInvalidArgument, "Custom ID invalid, no spaces or control characters allowed."},
	{accounts.ErrCustomIDLength, api.CodeInvalidArgument, "Custom ID invalid, must be 6-128 bytes."},
	{accounts.ErrEmailRequired, api.CodeInvalidArgument, "Email address and password is required."},
	{accounts.ErrEmailChars, api.CodeInvalidArgument, "Invalid email address, no spaces or control characters allowed."},
	{accounts.ErrEmailFormat, api.CodeInvalidArgument, "Invalid email address format."},
	{accounts.ErrEmailLength, api.CodeInvalidArgument, "Invalid email address, must be 10-255 bytes."},
	{accounts.ErrPasswordShort, api.CodeInvalidArgument, "Password must be at least 8 characters long."},
	{accounts.ErrPasswordLong, api.CodeInvalidArgument, "Password must be at most 72 bytes long."}, // (Latchkey; Nakama: 500)
	{accounts.ErrUsernameRequired, api.CodeInvalidArgument, "Username is required when email address is not supplied."},
	{accounts.ErrUsernameLength, api.CodeInvalidArgument, "Username invalid, must be 1-128 bytes."},
	{accounts.ErrUsernameChars, api.CodeInvalidArgument, "Username invalid, no spaces or control characters allowed."},
	{accounts.ErrUsernameTaken, api.CodeAlreadyExists, "Username is already in use."},
	{accounts.ErrUserNotFound, api.CodeNotFound, "User account not found."},
	{accounts.ErrAccountNotFound, api.CodeNotFound, "Account not found."},
	{accounts.ErrBanned, api.CodePermissionDenied, "User account banned."},
	{accounts.ErrInvalidCredentials, api.CodeUnauthenticated, "Invalid credentials."},
	{accounts.ErrNoFieldsToUpdate, api.CodeInvalidArgument, "No fields to update."},
	{accounts.ErrMetadataNotJSONObject, api.CodeInvalidArgument, "Metadata must be a JSON object."},
	{accounts.ErrInvalidUserID, api.CodeInvalidArgument, "User ID must be a valid UUID."},
	{accounts.ErrLastIdentity, api.CodePermissionDenied, "Cannot unlink last account identifier. Check profile exists and is not last link."},
	{accounts.ErrPlatformIDRequired, api.CodeUnauthenticated, "Could not authenticate profile."},
	{accounts.ErrTooManyUsers, api.CodeInvalidArgument, "Too many users requested, at most 100 ids, usernames and Facebook ids together."}, // (Latchkey)

	// Abuse limits, each wrapped in a *limits.RetryError that sets Retry-After. (Latchkey)
	{errRateLimited, api.CodeResourceExhausted, "Too many requests, try again later."},
	{accounts.ErrLoginLocked, api.CodeResourceExhausted, "Too many failed login attempts, try again later."},
	{accounts.ErrHashBusy, api.CodeUnavailable, "Server busy, try again."},

	{sessions.ErrRefreshTokenRequired, api.CodeInvalidArgument, "Refresh token is required."},
	{sessions.ErrRefreshTokenInvalid, api.CodeUnauthenticated, "Refresh token invalid or expired."},
	{sessions.ErrUserNotFound, api.CodeNotFound, "User account not found."},
	{sessions.ErrBanned, api.CodePermissionDenied, "User account banned."},
	{sessions.ErrLogoutTokenInvalid, api.CodeInvalidArgument, "Session token invalid."},
	{sessions.ErrLogoutRefreshInvalid, api.CodeInvalidArgument, "Refresh token invalid."},
	{sessions.ErrLogoutScope, api.CodeInvalidArgument, "Invalid logout scope, must be current, others or all."}, // (Latchkey)
	{sessions.ErrSessionNotFound, api.CodeNotFound, "Session not found."},                                       // (Latchkey)
	{sessions.ErrCursorInvalid, api.CodeInvalidArgument, "Invalid cursor."},                                     // (Latchkey)

	// Join tickets and the endpoints game servers call with a verifier key. (Latchkey)
	{tickets.ErrInvalidAudience, api.CodeInvalidArgument, "Invalid audience - must be 1-128 bytes of UTF-8 without control characters."},
	{tickets.ErrInvalidTTL, api.CodeInvalidArgument, "Invalid ttl_sec - must be at least 1 and at most the server's tickets.max_ttl_sec."},
	{errVerifierKeyRequired, api.CodeUnauthenticated, "Verifier key required"},
	{errVerifierKeyInvalid, api.CodeUnauthenticated, "Verifier key invalid"},
	{errIntrospectToken, api.CodeInvalidArgument, "Token is required."},
	{errIntrospectAudience, api.CodeInvalidArgument, "Audience is required to introspect a ticket."},
	{errFeedAfter, api.CodeInvalidArgument, "Invalid after - must be a feed sequence number, 0 or more."},
	{errFeedLimit, api.CodeInvalidArgument, fmt.Sprintf("Invalid limit - limit must be between 1 and %d.", maxFeedLimit)},
	{errFeedWait, api.CodeInvalidArgument, fmt.Sprintf("Invalid wait_ms - must be between 0 and %d.", maxFeedWaitMs)},
	{errFeedBusy, api.CodeUnavailable, "Too many revocation feed requests waiting, try again."},

	// The database cannot be reached: requests that need it fail cleanly and can be retried, while requests
	// that only validate a token keep being served from memory. (Latchkey)
	{storage.ErrUnavailable, api.CodeUnavailable, "Service temporarily unavailable, try again."},

	// The runtime package's errors, which server code may pass on unchanged.
	{runtime.ErrUserIDInvalid, api.CodeInvalidArgument, "User ID must be a valid UUID."},
	{runtime.ErrUserNotFound, api.CodeNotFound, "User account not found."},
	{runtime.ErrSessionNotFound, api.CodeNotFound, "Session not found."},
	{runtime.ErrUsernameTaken, api.CodeAlreadyExists, "Username is already in use."},
	{runtime.ErrTokenMalformed, api.CodeUnauthenticated, "Auth token invalid"},
	{runtime.ErrTokenSignature, api.CodeUnauthenticated, "Auth token invalid"},
	{runtime.ErrTokenExpired, api.CodeUnauthenticated, "Auth token invalid"},
	{runtime.ErrSessionRevoked, api.CodeUnauthenticated, "Auth token invalid"},

	{context.DeadlineExceeded, api.CodeDeadlineExceeded, "Request timed out."},
	{context.Canceled, api.CodeCanceled, "Request canceled."},
}

// identityInUse is Nakama's message for an identity that belongs to another account, by kind.
var identityInUse = map[storage.IdentityKind]string{
	storage.IdentityDevice:              "Device ID already in use.",
	storage.IdentityEmail:               "Email is already in use.",
	storage.IdentityCustom:              "Custom ID is already in use.",
	storage.IdentityApple:               "Apple ID is already in use.",
	storage.IdentityGoogle:              "Google ID is already in use.",
	storage.IdentityGameCenter:          "GameCenter ID is already in use.",
	storage.IdentitySteam:               "Steam ID is already in use.",
	storage.IdentityFacebook:            "Facebook ID is already in use.",
	storage.IdentityFacebookInstantGame: "Facebook Instant Game ID is already in use.",
}

// notServedError answers a call to a part of Nakama's API that Latchkey does not serve. (Latchkey)
type notServedError struct{ what, prefix string }

func (e *notServedError) Error() string { return e.what + " not served" }

// badRequestError carries a message written for the client, such as a JSON decoding problem.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &badRequestError{msg: fmt.Sprintf(format, args...)}
}

// toWire converts any error to the body the client sees. Errors it does not know are internal: the client
// gets a generic message and the cause goes to the log, never to the wire.
func toWire(err error) (e api.Error, known bool) {
	var ae *api.Error
	if errors.As(err, &ae) {
		return *ae, true
	}
	var br *badRequestError
	if errors.As(err, &br) {
		return api.Error{Code: api.CodeInvalidArgument, Message: br.msg}, true
	}
	var ns *notServedError
	if errors.As(err, &ns) {
		return api.Error{Code: api.CodeUnimplemented, Message: "Latchkey serves authentication and sessions only: " +
			ns.what + " (Nakama's " + ns.prefix + " API) is not available on this server."}, true
	}
	var pe *PlatformError
	if errors.As(err, &pe) {
		return platformWire(pe), true
	}
	var iu *accounts.IdentityInUseError
	if errors.As(err, &iu) {
		return api.Error{Code: api.CodeAlreadyExists, Message: identityInUse[iu.Kind]}, true
	}
	var tl *accounts.FieldTooLongError
	if errors.As(err, &tl) {
		return api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("Value of %s is too long, must be at most %d bytes.", tl.Field, tl.Max)}, true
	}
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return api.Error{Code: w.code, Message: w.msg}, true
		}
	}
	return api.Error{Code: api.CodeInternal, Message: "Internal server error."}, false
}

// WireError is the wire error a domain error maps to, and whether it is a known one (not an internal
// failure). Server code uses it so that a server function's domain error (a taken username, say) reaches
// the client as the same answer the REST API gives.
func WireError(err error) (api.Error, bool) {
	e, known := toWire(err)
	return e, known && e.Code != api.CodeInternal
}

// writeError writes Nakama's error body with the status its code maps to.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, known := toWire(err)
	if !known {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if e.Code == api.CodeInternal || e.Code == api.CodeUnavailable {
		a.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Code == api.CodeUnauthenticated {
		// Nakama puts the message here rather than a scheme challenge, which also keeps browsers from
		// popping up a credentials dialog on the Basic-auth routes.
		w.Header().Set("WWW-Authenticate", e.Message)
	}
	if e.Code == api.CodeUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var re *limits.RetryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.FormatInt(re.RetryAfterSeconds(), 10))
	}
	if w.Header().Get("Retry-After") != "" {
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After") // so that browser clients can read it
	}
	writeJSON(w, e.Code.HTTPStatus(), e)
}
