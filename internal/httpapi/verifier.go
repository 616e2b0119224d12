package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tickets"
)

// The endpoints game servers call with a verifier key (tickets.verifier_keys) to trust players without the
// session secret: introspection (RFC 7662) of a join ticket or a session token, and the revocation feed.
// docs/trusting-players.md describes them.

// Bounds of GET /latchkey/v1/revocations.
const (
	defaultFeedLimit = 500
	maxFeedLimit     = 1000
	maxFeedWaitMs    = 25000
	// defaultMaxFeedWaits bounds the long-polls waiting at once on a node, each holding a connection and a
	// goroutine; the ones beyond are refused with 503 and Retry-After.
	defaultMaxFeedWaits = 1000
	// feedReadMargin is kept of a request's deadline after a long-poll's wait, for the read that follows a
	// wake-up and for writing the answer.
	feedReadMargin = time.Second
)

var (
	errVerifierKeyRequired = errors.New("verifier key required")
	errVerifierKeyInvalid  = errors.New("verifier key invalid")
	errIntrospectToken     = errors.New("introspect: token required")
	errIntrospectAudience  = errors.New("introspect: audience required for a ticket")
	errFeedAfter           = errors.New("revocations: after invalid")
	errFeedLimit           = errors.New("revocations: limit invalid")
	errFeedWait            = errors.New("revocations: wait_ms invalid")
	errFeedBusy            = errors.New("revocations: too many waiting")
)

// verifierKeys holds the SHA-256 digests of the verifier keys, so that comparing a presented key takes the
// same time whatever its length and whichever key it matches.
type verifierKeys [][sha256.Size]byte

func newVerifierKeys(keys []string) verifierKeys {
	out := make(verifierKeys, len(keys))
	for i, k := range keys {
		out[i] = sha256.Sum256([]byte(k))
	}
	return out
}

// checkVerifierKey accepts `Authorization: Bearer KEY` with one of the verifier keys. Without any key
// configured the verifier endpoints are off and answer as unknown paths.
func (a *API) checkVerifierKey(r *http.Request) error {
	if len(a.verifierKeys) == 0 {
		return errNotFound
	}
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return errVerifierKeyRequired
	}
	key, ok := strings.CutPrefix(vals[0], "Bearer ")
	if len(vals) > 1 || !ok {
		return errVerifierKeyInvalid
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	for i := range a.verifierKeys {
		match |= subtle.ConstantTimeCompare(sum[:], a.verifierKeys[i][:])
	}
	if match != 1 {
		return errVerifierKeyInvalid
	}
	return nil
}

// introspectRequest is RFC 7662's request, with Latchkey's audience parameter, form-encoded or JSON.
type introspectRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint"`
	Audience      string `json:"audience"`
}

// Token type hints and the token_type of an answer.
const (
	tokenTypeTicket  = "ticket"
	tokenTypeSession = "session"
)

// introspection is RFC 7662's answer. An inactive token's answer carries nothing but active.
type introspection struct {
	Active    bool              `json:"active"`
	TokenType string            `json:"token_type,omitempty"`
	Sub       string            `json:"sub,omitempty"`
	Aud       string            `json:"aud,omitempty"`
	Exp       int64             `json:"exp,omitempty"`
	Iat       int64             `json:"iat,omitempty"`
	JTI       string            `json:"jti,omitempty"`
	SID       string            `json:"sid,omitempty"`
	Username  string            `json:"username,omitempty"`
	Vars      map[string]string `json:"vrs,omitempty"`
	Iss       string            `json:"iss,omitempty"`
}

// introspect answers POST /latchkey/v1/introspect: a join ticket is redeemed (so a second introspection
// of it is inactive, on every node), a session token is checked (signature, expiry, its session and
// account not ended) without being used up. Every decision is a 200.
func (a *API) introspect(w http.ResponseWriter, r *http.Request) error {
	req, err := a.decodeIntrospect(w, r)
	if err != nil {
		return err
	}
	if req.Token == "" {
		return errIntrospectToken
	}
	kind := req.TokenTypeHint
	if kind != tokenTypeTicket && kind != tokenTypeSession {
		kind = tokenKind(req.Token)
	}
	var out introspection
	if kind == tokenTypeTicket {
		if req.Audience == "" {
			return errIntrospectAudience
		}
		if out, err = a.introspectTicket(r.Context(), req.Token, req.Audience); err != nil {
			return err
		}
	} else if c, err := a.sessions.Authenticate(req.Token); err == nil {
		out = introspection{
			Active: true, TokenType: tokenTypeSession, Sub: c.UserID, Exp: c.ExpiresAt, Iat: c.IssuedAt,
			SID: c.TokenID, Username: c.Username, Vars: c.Vars,
		}
	}
	writeJSON(w, http.StatusOK, &out)
	return nil
}

// decodeIntrospect reads the request from a form-encoded body, as RFC 7662 has it, or from a JSON one (a
// body that starts with "{", whatever its Content-Type: curl -d sends JSON as a form). Parameters in the
// URL are ignored: a token there ends up in access logs.
func (a *API) decodeIntrospect(w http.ResponseWriter, r *http.Request) (introspectRequest, error) {
	var req introspectRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, errBodyTooLarge
		}
		return req, badRequest("Could not read request body.")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if trimmed := bytes.TrimSpace(body); ct == "application/json" || (len(trimmed) > 0 && trimmed[0] == '{') {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return req, a.decodeBody(w, r, &req)
	}
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return req, badRequest("Invalid form-encoded request body.")
	}
	return introspectRequest{Token: f.Get("token"), TokenTypeHint: f.Get("token_type_hint"), Audience: f.Get("audience")}, nil
}

// tokenKind tells a join ticket from a session token by the ticket's typ claim, reading the payload
// without verifying it; verification follows.
func tokenKind(token string) string {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return tokenTypeSession
	}
	var c struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(b, &c) == nil && c.Typ == tickets.TicketType {
		return tokenTypeTicket
	}
	return tokenTypeSession
}

// feedEntry is one revocation in the feed's answer. A session id of "" is an account cut: every session of
// the user whose generation is below Generation has ended, except Keep.
type feedEntry struct {
	Seq        int64  `json:"seq"`
	SessionID  string `json:"session_id"`
	UserID     string `json:"user_id"`
	ExpiresAt  int64  `json:"expires_at"`
	RevokedAt  int64  `json:"revoked_at"`
	Generation int64  `json:"generation"`
	Keep       string `json:"keep"`
}

type feedPage struct {
	Revocations []feedEntry `json:"revocations"`
	// Next is the sequence to ask after next time: the last one returned, or the one asked after.
	Next int64 `json:"next"`
}

// revocations answers GET /latchkey/v1/revocations: the feed entries after a sequence that can still end
// a valid token. With none and wait_ms, it waits for this node to learn of new ones (its feed follower
// reading another node's, or its own) up to wait_ms, within the request's deadline.
func (a *API) revocations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := queryInt(q.Get("after"), 0, 0, 1<<62, errFeedAfter)
	if err != nil {
		return err
	}
	limit, err := queryInt(q.Get("limit"), defaultFeedLimit, 1, maxFeedLimit, errFeedLimit)
	if err != nil {
		return err
	}
	waitMs, err := queryInt(q.Get("wait_ms"), 0, 0, maxFeedWaitMs, errFeedWait)
	if err != nil {
		return err
	}
	ctx := r.Context()
	wait := time.Duration(waitMs) * time.Millisecond
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-feedReadMargin)
	}
	var timeout <-chan time.Time
	for {
		added := a.sessions.RevocationsAdded() // before the read, so that no entry slips between read and wait
		revs, err := a.sessions.RevocationsSince(ctx, after, int(limit))
		if err != nil {
			return err
		}
		if len(revs) > 0 || wait <= 0 || a.drained() {
			writeJSON(w, http.StatusOK, feedAnswer(revs, after))
			return nil
		}
		if timeout == nil {
			if !a.feedWaits.acquire() {
				return errFeedBusy
			}
			defer a.feedWaits.release()
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-added:
		case <-timeout:
			writeJSON(w, http.StatusOK, feedAnswer(nil, after))
			return nil
		case <-a.draining:
			writeJSON(w, http.StatusOK, feedAnswer(nil, after))
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *API) drained() bool {
	select {
	case <-a.draining:
		return true
	default:
		return false
	}
}

func feedAnswer(revs []storage.Revocation, after int64) *feedPage {
	p := &feedPage{Revocations: make([]feedEntry, len(revs)), Next: after}
	for i, rv := range revs {
		p.Revocations[i] = feedEntry{
			Seq: rv.Seq, SessionID: rv.SessionID, UserID: rv.UserID, ExpiresAt: rv.ExpireTime.Unix(),
			RevokedAt: rv.RevokeTime.Unix(), Generation: rv.Generation, Keep: rv.Keep,
		}
		p.Next = rv.Seq
	}
	return p
}

// queryInt parses an optional integer query parameter within [lo, hi]; absent or empty is def, anything
// else out of range is bad.
func queryInt(v string, def, lo, hi int64, bad error) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

// Drain answers every revocation-feed long-poll at once, empty, and every later one without waiting, so that
// a node shutting down does not wait for them; verifiers poll again, another node. Call it when shutdown
// begins (http.Server.RegisterOnShutdown).
func (a *API) Drain() {
	a.drainOnce.Do(func() { close(a.draining) })
}

// waitSlots bounds the requests waiting at once.
type waitSlots struct {
	n   atomic.Int64
	max int64
}

func (s *waitSlots) acquire() bool {
	if s.n.Add(1) > s.max {
		s.n.Add(-1)
		return false
	}
	return true
}

func (s *waitSlots) release() { s.n.Add(-1) }
