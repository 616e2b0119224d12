package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/latchkeyhq/latchkey/runtime"
)

// InitModule registers the photon_auth RPC.
func InitModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, initializer runtime.Initializer) error {
	return initializer.RegisterRpc("photon_auth", photonAuth)
}

// Photon's result codes.
const (
	resultOK             = 1 // authenticated
	resultFailed         = 2 // wrong credentials
	resultMissingOrWrong = 3 // invalid or missing parameters
)

// Messages Photon passes to the client (OnCustomAuthenticationFailed).
const (
	msgMissing = "Parameter auth_token is missing."
	msgExpired = "Session token expired; refresh the session and connect again."
	msgEnded   = "Session has ended; log in again."
	msgInvalid = "Invalid session token."
)

// photonResult is the JSON object Photon reads. ResultCode is required; UserId and Nickname are only sent
// on success, Message only on failure.
type photonResult struct {
	ResultCode int    `json:"ResultCode"`
	UserID     string `json:"UserId,omitempty"`
	Nickname   string `json:"Nickname,omitempty"`
	Message    string `json:"Message,omitempty"`
}

// photonAuth answers Photon's custom-authentication call. The token comes from the auth_token query
// parameter (Photon's default GET) or, when Photon posts a dictionary (AuthPostData), from the auth_token
// field of the JSON body. The caller is authenticated by the server before this runs (the http_key
// parameter, set as a dashboard value in Photon), so the module never sees a key.
//
// Every decision is an HTTP 200 with a result code: Photon treats HTTP errors as the provider being down
// and backs off, which would lock out (or let in) every player for a while.
func photonAuth(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
	token, ok := authToken(ctx, payload)
	if !ok {
		return answer(photonResult{ResultCode: resultMissingOrWrong, Message: msgMissing})
	}
	s, err := nk.SessionValidate(ctx, token)
	switch {
	case err == nil:
		return answer(photonResult{ResultCode: resultOK, UserID: s.UserID, Nickname: s.Username})
	case errors.Is(err, runtime.ErrTokenExpired):
		return answer(photonResult{ResultCode: resultFailed, Message: msgExpired})
	case errors.Is(err, runtime.ErrSessionRevoked):
		return answer(photonResult{ResultCode: resultFailed, Message: msgEnded})
	default: // malformed, or a bad signature
		logger.Debug("photon_auth refused a token: %v", err)
		return answer(photonResult{ResultCode: resultFailed, Message: msgInvalid})
	}
}

// authToken finds the session token in the query, else in a JSON object body.
func authToken(ctx context.Context, payload string) (string, bool) {
	query, _ := ctx.Value(runtime.RUNTIME_CTX_QUERY_PARAMS).(map[string][]string)
	if v := query["auth_token"]; len(v) > 0 && v[0] != "" {
		return v[0], true
	}
	if strings.TrimSpace(payload) == "" {
		return "", false
	}
	var body struct {
		AuthToken string `json:"auth_token"`
	}
	if err := json.Unmarshal([]byte(payload), &body); err != nil || body.AuthToken == "" {
		return "", false
	}
	return body.AuthToken, true
}

func answer(r photonResult) (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}
