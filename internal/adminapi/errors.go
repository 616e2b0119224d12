package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// Errors raised by this package itself.
var (
	errKeyRequired      = errors.New("admin key required")
	errKeyInvalid       = errors.New("admin key invalid")
	errNotFound         = errors.New("route not found")
	errMethodNotAllowed = errors.New("method not allowed")
	errInternalPanic    = errors.New("handler panicked")
	errBodyTooLarge     = errors.New("request body too large")
	errUserNotFound     = errors.New("user not found")
	errSessionID        = errors.New("session id is not a uuid")
	errLookup           = errors.New("user lookup needs exactly one key")
	errReasonTooLong    = fmt.Errorf("reason longer than %d bytes", maxReasonBytes)
)

// wireErrors maps this package's own errors to the wire. Domain errors (an unknown user to ban, a
// malformed user id or cursor, an unreachable store, ...) are mapped by the client API's one table,
// httpapi.WireError, so that both APIs answer them alike.
var wireErrors = []struct {
	err  error
	code api.Code
	msg  string
}{
	{errKeyRequired, api.CodeUnauthenticated, "Admin key required."},
	{errKeyInvalid, api.CodeUnauthenticated, "Admin key invalid."},
	{errNotFound, api.CodeNotFound, "Not Found"},
	{errMethodNotAllowed, api.CodeUnimplemented, "Method Not Allowed"},
	{errInternalPanic, api.CodeInternal, "Internal server error."},
	{errBodyTooLarge, api.CodeInvalidArgument, "Request body too large."},
	{errUserNotFound, api.CodeNotFound, "User account not found."},
	{errSessionID, api.CodeInvalidArgument, "Session ID must be a valid UUID."},
	{errLookup, api.CodeInvalidArgument, "Give exactly one of username, email, device_id and custom_id."},
	{errReasonTooLong, api.CodeInvalidArgument, fmt.Sprintf("Reason too long, must be at most %d bytes.", maxReasonBytes)},
}

// badRequestError carries a message written for the caller, such as a JSON decoding problem.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &badRequestError{msg: fmt.Sprintf(format, args...)}
}

// toWire converts any error to the body the caller sees; unknown errors are internal, with a generic
// message (the cause goes to the log, never to the wire).
func toWire(err error) (api.Error, bool) {
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return api.Error{Code: w.code, Message: w.msg}, true
		}
	}
	var br *badRequestError
	if errors.As(err, &br) {
		return api.Error{Code: api.CodeInvalidArgument, Message: br.msg}, true
	}
	return httpapi.WireError(err)
}

// writeError writes Nakama's error body with the HTTP status its code maps to.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, known := toWire(err)
	switch {
	case !known:
		e = api.Error{Code: api.CodeInternal, Message: "Internal server error."}
		a.log.Error("admin API: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case e.Code == api.CodeInternal || e.Code == api.CodeUnavailable || e.Code == api.CodeDeadlineExceeded:
		a.log.Warn("admin API: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Code == api.CodeUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey-admin"`)
	}
	if e.Code == api.CodeUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Code.HTTPStatus(), e)
}

// writeJSON writes v as the JSON answer with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":13,"message":"Internal server error."}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
