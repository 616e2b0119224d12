package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/api"
)

var (
	errRPCCredentials = errors.New("rpc: no credentials")
	errHTTPKeyInvalid = errors.New("rpc: http key invalid")
	errRPCIDRequired  = errors.New("rpc: id required")
	errRPCNotFound    = errors.New("rpc: function not found")
)

// rpc serves GET and POST /v2/rpc/{id} as Nakama does (its RpcFuncHttp, outside the gateway):
//
//   - credentials, in this order: a non-empty `http_key` query parameter must be runtime.http_key; else an
//     Authorization header that parses as Basic must carry the HTTP key as its user (the server key is not
//     accepted); else it must be a valid Bearer session token. With the HTTP key no user is known.
//   - the id is case-insensitive;
//   - POST's body is a JSON string whose value is the payload, and the answer is {"payload": RESULT}; with
//     the `unwrap` query parameter present the raw body is the payload and the raw result is the answer,
//     with the request's Content-Type echoed (text/plain without one). GET has an empty payload.
//   - errors carry Nakama's RPC error body, {"code", "error", "message"}.
func (a *API) rpc(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if key := q.Get("http_key"); key != "" {
		if subtle.ConstantTimeCompare([]byte(key), a.httpKey) != 1 {
			return a.rpcError(w, r, errHTTPKeyInvalid)
		}
	} else if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if user, ok := basicUser(vals[0]); ok {
			if subtle.ConstantTimeCompare([]byte(user), a.httpKey) != 1 {
				return a.rpcError(w, r, errHTTPKeyInvalid)
			}
		} else {
			c, err := a.checkBearer(r)
			if err != nil {
				return a.rpcError(w, r, err)
			}
			markUser(w, c.UserID)
			ctx = withCaller(ctx, c)
		}
	} else {
		return a.rpcError(w, r, errRPCCredentials)
	}
	id := strings.ToLower(r.PathValue("id"))
	if id == "" {
		return a.rpcError(w, r, errRPCIDRequired)
	}
	_, unwrap := q["unwrap"]

	payload := ""
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return a.rpcError(w, r, errBodyTooLarge)
			}
			return a.rpcError(w, r, badRequest("Could not read request body."))
		}
		if unwrap {
			payload = string(body)
		} else if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &payload); err != nil {
				return a.rpcError(w, r, badRequest("Request body must be a JSON string, or use ?unwrap to send a raw payload."))
			}
		}
	}
	if a.rpcs == nil {
		return a.rpcError(w, r, errRPCNotFound)
	}
	ctx = context.WithValue(ctx, requestKey{}, r)
	result, found, err := a.rpcs.Rpc(ctx, id, payload)
	if !found {
		return a.rpcError(w, r, errRPCNotFound)
	}
	if err != nil {
		return a.rpcFuncError(w, r, err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate")
	if unwrap {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/plain"
		}
		h.Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, result)
		return nil
	}
	writeJSON(w, http.StatusOK, struct {
		Payload string `json:"payload"`
	}{result})
	return nil
}

// rpcError writes Nakama's RPC error body for a request refused before the function ran: the message
// is in "error" as well.
func (a *API) rpcError(w http.ResponseWriter, r *http.Request, err error) error {
	return a.writeRPCError(w, r, err, false)
}

// rpcFuncError writes the error a function returned: "error" is an empty object, as Nakama's map
// marshalling produces.
func (a *API) rpcFuncError(w http.ResponseWriter, r *http.Request, err error) error {
	return a.writeRPCError(w, r, err, true)
}

func (a *API) writeRPCError(w http.ResponseWriter, r *http.Request, err error, fromFunc bool) error {
	e, known := toWire(err)
	if !known {
		a.log.Error("rpc failed", "path", r.URL.Path, "err", err)
	}
	var detail any = e.Message
	if fromFunc {
		detail = struct{}{}
	}
	writeJSON(w, e.Code.HTTPStatus(), struct {
		Code    api.Code `json:"code"`
		Error   any      `json:"error"`
		Message string   `json:"message"`
	}{e.Code, detail, e.Message})
	return nil
}
