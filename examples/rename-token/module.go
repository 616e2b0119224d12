package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/latchkeyhq/latchkey/runtime"
)

// InitModule registers the update_username RPC.
func InitModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, initializer runtime.Initializer) error {
	return initializer.RegisterRpc("update_username", updateUsername)
}

// renameRequest is the RPC's payload.
type renameRequest struct {
	Username string `json:"username"`
}

// renameResponse is the RPC's answer: the new session token and its expiry (Unix seconds).
type renameResponse struct {
	Token string `json:"token"`
	Exp   int64  `json:"exp"`
}

// maxUsernameBytes is the server's username limit, checked here so that a bad name is a 400 with a
// readable message rather than an error from AccountUpdateId.
const maxUsernameBytes = 128

// updateUsername renames the calling user and returns a fresh session token that carries the new name and
// the caller's session variables. The caller's current token stays valid (with the old name) until it
// expires; a refresh of the caller's session also picks up the new name.
func updateUsername(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
	userID, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
	if userID == "" {
		// Called with the HTTP key: there is no user to rename.
		return "", runtime.NewError("update_username needs a session token.", 16)
	}
	var req renameRequest
	if err := json.Unmarshal([]byte(payload), &req); err != nil {
		return "", runtime.NewError(`Payload must be a JSON object: {"username": "..."}.`, 3)
	}
	if err := checkUsername(req.Username); err != nil {
		return "", err
	}

	err := nk.AccountUpdateId(ctx, userID, req.Username, nil, "", "", "", "", "")
	switch {
	case err == nil:
	case errors.Is(err, runtime.ErrUsernameTaken):
		return "", runtime.NewError("Username is already in use.", 6)
	case errors.Is(err, runtime.ErrUserNotFound):
		return "", runtime.NewError("User account not found.", 5)
	default:
		return "", err // logged by the server, answered as a generic 500
	}

	vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string)
	token, exp, err := nk.AuthenticateTokenGenerate(userID, "", 0, vars)
	if err != nil {
		return "", err
	}
	logger.WithField("user_id", userID).Info("renamed to %q", req.Username)
	out, err := json.Marshal(renameResponse{Token: token, Exp: exp})
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// checkUsername applies the server's username rules: 1-128 bytes, no spaces or control characters.
func checkUsername(u string) error {
	if u == "" || len(u) > maxUsernameBytes {
		return runtime.NewError("Username invalid, must be 1-128 bytes.", 3)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return runtime.NewError("Username invalid, no spaces or control characters allowed.", 3)
		}
	}
	return nil
}
