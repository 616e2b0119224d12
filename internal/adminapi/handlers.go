package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Page sizes.
const (
	maxPage            = 100 // sessions and events
	defaultEventsLimit = 50  // as `latchkey sessions events`
	maxReasonBytes     = 256
)

// User is the answer of the user lookups: the account as server code's AccountGetId returns it (Nakama's
// Account message: profile, email, devices, custom and platform ids, create, update, verify and disable
// times; never the password hash), and whether it is banned.
type User struct {
	*api.Account
	Banned bool `json:"banned"`
}

// Session is one live session of a user. Times are RFC 3339 in UTC, whole seconds.
type Session struct {
	ID          string `json:"id"`
	CreateTime  string `json:"create_time"`
	RefreshTime string `json:"refresh_time"`
	ExpireTime  string `json:"expire_time"`
	UserAgent   string `json:"user_agent"`
	ClientIP    string `json:"client_ip"`
}

// SessionList is a page of a user's live sessions, newest first; Cursor, opaque, asks for the next page
// and is empty on the last.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Cursor   string    `json:"cursor,omitempty"`
}

// Event is one security event of a user.
type Event struct {
	ID        int64  `json:"id"`
	Time      string `json:"time"`
	Kind      string `json:"kind"`
	SessionID string `json:"session_id,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// EventList is a page of a user's security events, newest first; NextBefore, when set, is the `before`
// that asks for the next page.
type EventList struct {
	Events     []Event `json:"events"`
	NextBefore int64   `json:"next_before,omitempty"`
}

// Ended says how many sessions an action ended.
type Ended struct {
	Ended int `json:"ended"`
}

// Reason is the optional body of the actions: why, for the security event log.
type Reason struct {
	Reason string `json:"reason"`
}

func (a *API) user(w http.ResponseWriter, r *http.Request) error {
	uid, err := userID(r)
	if err != nil {
		return err
	}
	u, err := a.account(r.Context(), uid)
	if err != nil {
		return err
	}
	return ok(w, userJSON(u))
}

// findUser looks a user up by exactly one of username, email, device_id and custom_id.
func (a *API) findUser(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var (
		n   int
		get func(ctx context.Context) (*storage.User, error)
	)
	for _, key := range []struct {
		name string
		kind storage.IdentityKind // 0: the username
	}{{"username", 0}, {"email", storage.IdentityEmail}, {"device_id", storage.IdentityDevice}, {"custom_id", storage.IdentityCustom}} {
		v := q.Get(key.name)
		if v == "" {
			continue
		}
		n++
		get = func(ctx context.Context) (*storage.User, error) {
			if key.kind == 0 {
				return a.accounts.AccountByUsername(ctx, v)
			}
			return a.accounts.AccountByIdentity(ctx, key.kind, v)
		}
	}
	if n != 1 {
		return errLookup
	}
	u, err := get(r.Context())
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return errUserNotFound
	}
	if err != nil {
		return err
	}
	return ok(w, userJSON(u))
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	uid, err := a.existingUser(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit", maxPage, maxPage)
	if err != nil {
		return err
	}
	list, cursor, err := a.sessions.List(r.Context(), uid, q.Get("cursor"), int(limit))
	if err != nil {
		return err
	}
	out := SessionList{Sessions: make([]Session, len(list)), Cursor: cursor}
	for i, s := range list {
		out.Sessions[i] = Session{
			ID: s.ID, CreateTime: timestamp(s.CreateTime), RefreshTime: timestamp(s.RefreshTime),
			ExpireTime: timestamp(s.ExpireTime), UserAgent: s.UserAgent, ClientIP: s.ClientIP,
		}
	}
	return ok(w, out)
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	uid, err := a.existingUser(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultEventsLimit, maxPage)
	if err != nil {
		return err
	}
	before, err := intParam(q, "before", 0, math.MaxInt64)
	if err != nil {
		return err
	}
	evs, err := a.sessions.Events(r.Context(), uid, before, int(limit))
	if err != nil {
		return err
	}
	out := EventList{Events: make([]Event, len(evs))}
	for i, e := range evs {
		out.Events[i] = Event{
			ID: e.ID, Time: timestamp(e.Time), Kind: string(e.Kind), SessionID: e.SessionID, ClientIP: e.ClientIP, Reason: e.Reason,
		}
	}
	if len(evs) == int(limit) {
		out.NextBefore = evs[len(evs)-1].ID
	}
	return ok(w, out)
}

func (a *API) endSession(w http.ResponseWriter, r *http.Request) error {
	uid, err := a.existingUser(r)
	if err != nil {
		return err
	}
	sid := r.PathValue("session_id")
	if _, valid := tokens.ParseID(sid); !valid {
		return errSessionID
	}
	reason, err := readReason(r)
	if err != nil {
		return err
	}
	if err := a.sessions.RevokeSession(r.Context(), uid, sid, reason); err != nil {
		return err
	}
	a.logAction(r, "end session", uid, "session_id", sid)
	return ok(w, api.Empty{})
}

func (a *API) endSessions(w http.ResponseWriter, r *http.Request) error {
	uid, err := a.existingUser(r)
	if err != nil {
		return err
	}
	reason, err := readReason(r)
	if err != nil {
		return err
	}
	n, err := a.sessions.RevokeUser(r.Context(), uid, "", storage.EventSessionRevoked, reason, "")
	if err != nil {
		return err
	}
	a.logAction(r, "end all sessions", uid, "ended", n)
	return ok(w, Ended{Ended: n})
}

func (a *API) ban(w http.ResponseWriter, r *http.Request) error {
	uid, reason, err := actionArgs(r)
	if err != nil {
		return err
	}
	n, err := a.sessions.Ban(r.Context(), uid, reason)
	if err != nil {
		return err
	}
	a.logAction(r, "ban", uid, "ended", n)
	return ok(w, Ended{Ended: n})
}

func (a *API) unban(w http.ResponseWriter, r *http.Request) error {
	uid, reason, err := actionArgs(r)
	if err != nil {
		return err
	}
	if err := a.sessions.Unban(r.Context(), uid, reason); err != nil {
		return err
	}
	a.logAction(r, "unban", uid)
	return ok(w, api.Empty{})
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	uid, reason, err := actionArgs(r)
	if err != nil {
		return err
	}
	if err := a.sessions.DeleteAccount(r.Context(), uid, reason); err != nil {
		return err
	}
	a.logAction(r, "delete account", uid)
	return ok(w, api.Empty{})
}

// logAction writes the one log line of an action that changed something.
func (a *API) logAction(r *http.Request, action, uid string, attrs ...any) {
	a.log.Info("admin API action", append([]any{"action", action, "user_id", uid, "remote_addr", r.RemoteAddr}, attrs...)...)
}

// userID reads the {id} path value, which must be a user id (a canonical UUID).
func userID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, valid := tokens.ParseID(id); !valid {
		return "", accounts.ErrInvalidUserID
	}
	return id, nil
}

// account reads the user's account from the store (never a node's cache: an operator acts on what is
// stored).
func (a *API) account(ctx context.Context, uid string) (*storage.User, error) {
	u, err := a.accounts.AccountFresh(ctx, uid)
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return nil, errUserNotFound
	}
	return u, err
}

// existingUser is the {id} of a route whose service call does not itself tell an unknown user apart,
// checked to exist, so that every route answers an unknown user alike.
func (a *API) existingUser(r *http.Request) (string, error) {
	uid, err := userID(r)
	if err != nil {
		return "", err
	}
	if _, err := a.account(r.Context(), uid); err != nil {
		return "", err
	}
	return uid, nil
}

// actionArgs reads the user id and the reason of an action whose service call reports an unknown user.
func actionArgs(r *http.Request) (uid, reason string, err error) {
	if uid, err = userID(r); err != nil {
		return "", "", err
	}
	reason, err = readReason(r)
	return uid, reason, err
}

// readReason reads the optional {"reason": "..."} body and returns the reason the security events record:
// "admin API", followed by the caller's reason when there is one, so that the log says who acted.
func readReason(r *http.Request) (string, error) {
	raw, err := io.ReadAll(r.Body)
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return "", errBodyTooLarge
	}
	if err != nil {
		return "", err
	}
	var body Reason
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return "", badRequest("Invalid request body: %v.", err)
		}
		if dec.More() {
			return "", badRequest("Invalid request body: more than one JSON value.")
		}
	}
	if len(body.Reason) > maxReasonBytes {
		return "", errReasonTooLong
	}
	if body.Reason == "" {
		return "admin API", nil
	}
	return "admin API: " + body.Reason, nil
}

// intParam reads an optional whole-number query parameter between 1 and max; def when absent.
func intParam(q url.Values, name string, def, max int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("Invalid %s - must be a whole number between 1 and %d.", name, max)
	}
	return n, nil
}

func userJSON(u *storage.User) User {
	return User{Account: httpapi.AccountJSON(u), Banned: u.Banned()}
}

func ok(w http.ResponseWriter, v any) error {
	writeJSON(w, http.StatusOK, v)
	return nil
}

// timestamp writes a time as the client API does: RFC 3339, whole seconds, UTC; the zero time is "".
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
